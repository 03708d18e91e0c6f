"""What the notebook stages hand each other, and the one reader that says which notebook to run first.

Each stage leaves a record under artifacts/<profile>/ that later stages read:

| record | written by | holds |
|---|---|---|
| corpus.parquet | 01_data | the caption pairs and their splits |
| sources.json | 01_data | the kind of sources ('embedded' or 'paper') and the paper profile's data |
| teacher_targets.npy | 01_data (paper) | M-CLIP's precomputed CLIP text embeddings, the targets |
| teacher.json | 02_teacher | which teacher the later notebooks load |
| students.json | 03_train | the trained runs, their student and training configuration, the balance |

The cache-key policy of a student run (`run_dir`) lives here too: notebooks 03 and 05 share runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import paths
from .data.paper_data import PaperData
from .errors import TomclipError
from .io import atomic_path, write_json
from .models.student import TOP_LAYERS_VERSION, Student, StudentConfig
from .models.teacher import Teacher, load_embedded_teacher, load_paper_teacher
from .topology import ENGINE_VERSION
from .train import TRAINING_VERSION, TrainConfig

EMBEDDED, PAPER = "embedded", "paper"
#: Each record, and the notebook that writes it.
WRITTEN_BY = {
    "corpus.parquet": "01_data",
    "sources.json": "01_data",
    "teacher_targets.npy": "01_data",
    "teacher.json": "02_teacher",
    "students.json": "03_train",
}


def record_path(profile: str, name: str) -> Path:
    """Where a record lives, checked to exist: otherwise one message that names the notebook to run."""
    path = paths.artifacts_dir(profile) / name
    if not path.exists():
        notebook = WRITTEN_BY[name]
        raise TomclipError(
            f"No {name} for profile {profile!r}: run notebook {notebook} first "
            f"(make paper PROFILE={profile} runs the notebooks in order)."
        )
    return path


def _read(profile: str, name: str) -> dict:
    return json.loads(record_path(profile, name).read_text())


def _stale(profile: str, name: str, field: str) -> TomclipError:
    return TomclipError(
        f"{paths.artifacts_dir(profile) / name} predates its field {field!r}: run notebook "
        f"{WRITTEN_BY[name]} again (what it trained is reused, nothing retrains)."
    )


# ----------------------------------------------------------------------------- 01: corpus and sources


def save_corpus(corpus: pd.DataFrame, profile: str) -> None:
    """Store the corpus that notebook 01 built, so that every later notebook uses the same one."""
    with atomic_path(paths.artifacts_dir(profile) / "corpus.parquet") as tmp:
        corpus.to_parquet(tmp, index=False)


def load_corpus(profile: str) -> pd.DataFrame:
    """The corpus of a profile, as notebook 01 saved it."""
    return pd.read_parquet(record_path(profile, "corpus.parquet"))


def save_sources(
    profile: str, paper: PaperData | None, targets: np.ndarray | None = None, mclip_rows: dict | None = None
) -> None:
    """Record which kind of sources the profile reads (paper: with its data, targets and row counts)."""
    if paper is None:
        record = {"kind": EMBEDDED, "paper_data": None}
    else:
        with atomic_path(paths.artifacts_dir(profile) / "teacher_targets.npy") as tmp, open(tmp, "wb") as handle:
            np.save(handle, targets)
        record = {"kind": PAPER, "paper_data": asdict(paper), "mclip_rows": mclip_rows}
    write_json(paths.artifacts_dir(profile) / "sources.json", record)


def kind(profile: str) -> str:
    """'embedded' or 'paper': what notebook 01 prepared for this profile."""
    return _read(profile, "sources.json")["kind"]


def paper_data(profile: str) -> PaperData:
    return PaperData(**_read(profile, "sources.json")["paper_data"])


def mclip_rows(profile: str) -> dict | None:
    """What notebook 01 read of M-CLIP (rows asked, read, dropped, kept), or None without paper data
    (or before notebook 01 recorded its sources: the embedded card needs none)."""
    path = paths.artifacts_dir(profile) / "sources.json"
    return json.loads(path.read_text()).get("mclip_rows") if path.exists() else None


def teacher_targets(profile: str) -> np.ndarray:
    """The paper profile's targets, memory-mapped: M-CLIP's CLIP text embedding of each pair's English caption."""
    return np.load(record_path(profile, "teacher_targets.npy"), mmap_mode="r")


# ----------------------------------------------------------------------------- 02: the teacher


def save_teacher_pointer(profile: str, pointer: dict) -> None:
    """Point the later notebooks at the teacher notebook 02 prepared (its kind and folder)."""
    write_json(paths.artifacts_dir(profile) / "teacher.json", pointer)


def load_teacher(profile: str) -> Teacher:
    """The teacher that notebook 02 prepared for `profile`."""
    record = _read(profile, "teacher.json")
    folder = paths.artifacts_dir(profile) / record["folder"]
    if record["kind"] == PAPER:
        return load_paper_teacher(
            "cuda" if torch.cuda.is_available() else "cpu",
            pretrained=record["pretrained"],
            folder=folder,
            architecture=record.get("model", "ViT-B-32"),
        )
    return load_embedded_teacher(folder)


# ----------------------------------------------------------------------------- 03: the students


def fingerprint(*texts_lists) -> str:
    digest = hashlib.sha256()
    for texts in texts_lists:
        digest.update("\x1f".join(texts).encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()[:16]


def run_dir(profile: str, config: TrainConfig, student_config: StudentConfig, data_key: str) -> Path:
    """A student run's folder: keyed by its training and student configuration, its data, and the
    versions of what changes bits (training; the top layers' code when they train; the topology
    engine when a topological term is on). A changed key retrains; an unchanged one reuses."""
    top_layers = student_config.trainable_layers not in (0, "all")
    topological = any(weight for name, weight in config.loss_weights.items() if name != "pointwise")
    key = config.key(
        repr(student_config),
        data_key,
        f"training-{TRAINING_VERSION}",
        *([f"top-layers-{TOP_LAYERS_VERSION}"] if top_layers else []),
        *([f"topology-engine-{ENGINE_VERSION}"] if topological else []),
    )
    name = f"{config.variant}-{config.setting}-seed{config.seed}-{key}"
    return paths.artifacts_dir(profile) / "students" / name.replace("(", "_").replace(")", "")


def save_runs(
    profile: str,
    runs: pd.DataFrame,
    student_config: StudentConfig,
    base: TrainConfig,
    balance_factor: float = 1.0,
    chosen_weights: dict[str, float] | None = None,
) -> None:
    """Record the trained runs, the student's configuration, the training configuration they
    share, the balance factor and the weights validation chose, for the notebooks that evaluate
    them (04, 06, 08) and vary them (05)."""
    write_json(
        paths.artifacts_dir(profile) / "students.json",
        {
            "student": asdict(student_config),
            "train": asdict(base),
            "balance_factor": balance_factor,
            "chosen_weights": chosen_weights,
            "runs": runs.to_dict(orient="records"),
        },
    )


def load_runs(profile: str) -> tuple[pd.DataFrame, StudentConfig]:
    """The runs that notebook 03 trained for `profile` (one row each: model, setting, seed, run_dir,
    its trainable layers, scores), and the student configuration of the grid."""
    record = _read(profile, "students.json")
    return pd.DataFrame(record["runs"]), StudentConfig(**record["student"])


def load_balance(profile: str) -> tuple[float, dict[str, float] | None]:
    """Notebook 03's balance factor and the weights its sweep chose (None without a sweep)."""
    record = _read(profile, "students.json")
    if "balance_factor" not in record:
        raise _stale(profile, "students.json", "balance_factor")
    return record["balance_factor"], record["chosen_weights"]


def load_train_config(profile: str) -> TrainConfig:
    """The training configuration shared by notebook 03's runs (its variant, setting and seed are
    placeholders: each run replaced them)."""
    record = _read(profile, "students.json")
    if "train" not in record:
        raise _stale(profile, "students.json", "train")
    return TrainConfig(**record["train"])


def _run_student_config(student_config: StudentConfig, run) -> StudentConfig:
    """The grid's student configuration with a run's own trainable layers (a row of load_runs)."""
    layers = getattr(run, "trainable_layers", student_config.trainable_layers)
    return replace(student_config, trainable_layers=layers if layers == "all" else int(layers))


def load_student(profile: str, run) -> Student:
    """A recorded run's trained student, in eval mode: `run` is a row of load_runs(profile)
    (itertuples or a Series), whose own trainable layers decide the student's shape."""
    _, student_config = load_runs(profile)
    student = Student(_run_student_config(student_config, run))
    student.load_trainable_state(torch.load(Path(run.run_dir) / "best.pt", weights_only=True))
    return student.eval()


def load_students(profile: str, models: list[str], setting: str = "full") -> dict[str, Student]:
    """The first-seed student of each named model in one setting (the figures' and the geometry
    study's), in the order given; models not trained in that setting are left out."""
    runs, _ = load_runs(profile)
    first = runs[runs["setting"] == setting].groupby("variant").first()
    return {model: load_student(profile, first.loc[model]) for model in models if model in first.index}
