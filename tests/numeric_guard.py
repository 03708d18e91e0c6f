"""The cross-machine guard of `make test`: notebook 03's smoke runs, retrained under another thread count.

A second machine rounds differently from this one; a topology-trained student turns a last-bit
difference into another spanning forest, another trajectory, another table. Without a second
machine, a second numeric environment shows the same: after nbval has run the smoke profile
(OMP_NUM_THREADS from numerics.env), this retrains every variant's first-seed runs from the same
cached features in a child process with OMP_NUM_THREADS=1, and requires the very same bits: the
best epoch, the validation loss, every trained weight.

    python tests/numeric_guard.py [PROFILE]            compare (default profile: smoke)
    python tests/numeric_guard.py --retrain PROFILE OUT    the child: retrain into OUT
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path

import torch

from tomclip_lib import numerics, records
from tomclip_lib.models.student import Student
from tomclip_lib.stages.distillation import setting_pairs
from tomclip_lib.train import BEST, METRICS, TrainConfig, train_student

GUARD_THREADS = "1"


def chosen_runs(profile: str):
    """Each (setting, model)'s first seed: every objective, both settings, the top-layer students, a few
    seconds each."""
    runs, student_config = records.load_runs(profile)
    first = runs.sort_values("seed", kind="stable").drop_duplicates(["setting", "variant"])
    return first, student_config


def retrain(profile: str, out: Path) -> None:
    warnings.filterwarnings("ignore", message="tomclip: not the pinned")  # this child is off the pin on purpose
    runs, student_config = chosen_runs(profile)
    corpus = records.load_corpus(profile)
    data = ["setting", "trainable_layers", "vocabulary", "vocabulary_form"]  # the smoke run nbval just wrote
    for (setting, layers, vocabulary, form), part in runs.groupby(data, sort=False):
        student = replace(student_config, trainable_layers=int(layers))
        train, validation, data_key, _ = setting_pairs(profile, corpus, student, setting, int(vocabulary), form)
        for run in part.itertuples():
            config = TrainConfig(**json.loads((Path(run.run_dir) / "config.json").read_text()))  # as trained
            folder = out / Path(run.run_dir).name
            if records.run_dir(profile, config, student, data_key).name != folder.name:
                sys.exit(
                    f"guard: the data of {folder.name} differ from those nbval trained on (features or targets "
                    f"changed between the runs); nothing to compare"
                )
            train_student(config, Student(student, seed=run.seed), train, validation, folder, progress=False)


def compare(profile: str) -> int:
    if numerics.differences():
        sys.exit("guard: run it through `make guard`, in the pinned environment: " + "; ".join(numerics.differences()))
    runs, _ = chosen_runs(profile)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OMP_NUM_THREADS": GUARD_THREADS}
        subprocess.run([sys.executable, __file__, "--retrain", profile, tmp], env=env, check=True)
        print(
            f"numeric guard: {len(runs)} smoke runs of notebook 03 retrained with {GUARD_THREADS} thread "
            f"(nbval: {os.environ['OMP_NUM_THREADS']}), same features, same seeds"
        )
        for run in runs.itertuples():
            recorded, again = Path(run.run_dir), Path(tmp) / Path(run.run_dir).name
            first, second = (json.loads((folder / METRICS).read_text()) for folder in (recorded, again))
            weights = [torch.load(folder / BEST, weights_only=True) for folder in (recorded, again)]
            same_weights = weights[0].keys() == weights[1].keys() and all(
                torch.equal(weights[0][name], weights[1][name]) for name in weights[0]
            )
            same = same_weights and all(
                first[k] == second[k] for k in ("best_validation", "best_epoch", "epochs", "steps")
            )
            failed += not same
            print(
                f"  {'same bits' if same else 'DIFFERENT'}: {run.variant} ({run.setting}, seed {run.seed}), best epoch "
                f"{first['best_epoch']} vs {second['best_epoch']}, validation {first['best_validation']!r} vs "
                f"{second['best_validation']!r}" + ("" if same_weights else ", weights differ")
            )
    if failed:
        print(
            "A result of notebook 03 depends on the thread count: a reduction is split across threads somewhere in "
            "the training step (see tomclip_lib/topology/stable.py), so other machines get other tables."
        )
    print(f"{len(runs) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--retrain"] and len(sys.argv) == 4:
        retrain(sys.argv[2], Path(sys.argv[3]))
    elif len(sys.argv) <= 2:
        sys.exit(compare(sys.argv[1] if len(sys.argv) == 2 else "smoke"))
    else:
        sys.exit(__doc__)
