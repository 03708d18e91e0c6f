"""Notebook 03's stage: the distillation pairs of each setting, and the grid of student runs trained on them.

Each run is cached under artifacts/<profile>/students/ with a key that covers its configuration
and data (records.run_dir), so re-running evaluation never retrains and a changed parameter
retrains only what it changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from .. import distributed, paths, records
from ..data.corpus import split_pairs
from ..data.vocabulary import vocabulary_pairs
from ..errors import TomclipError
from ..models.student import Student, StudentConfig
from ..models.teacher import embedded_text_encoder
from ..train import GRID, METRICS, DistillationSplit, TrainConfig, train_student, write_grid
from .grid import GridRow, student_of


class DistillationPairs(NamedTuple):
    """One setting's training and validation pairs, and a key of their contents (for the runs' cache keys)."""

    train: DistillationSplit
    validation: DistillationSplit
    key: str
    vocabulary: int = 0  # how many of the training pairs are WordNet nouns (data.vocabulary)


def target_dim(profile: str) -> int:
    """The teacher's text embedding size, which the student's head maps to."""
    if records.kind(profile) == records.EMBEDDED:
        return int(embedded_text_encoder(["a"]).shape[1])
    return int(records.teacher_targets(profile).shape[1])


def targets_of(profile: str, pairs: pd.DataFrame) -> np.ndarray:
    """The teacher's targets of corpus rows, as training reads them: the embedded teacher's text
    tower on the English captions, or the paper profile's precomputed CLIP text features."""
    if records.kind(profile) == records.EMBEDDED:
        return embedded_text_encoder(list(pairs["en"]))
    return records.teacher_targets(profile)[pairs["target_row"].to_numpy()]


def setting_pairs(
    profile: str,
    corpus: pd.DataFrame,
    student_config: StudentConfig,
    setting: str,
    vocabulary: int | None = 0,
    vocabulary_form: str = "noun",
) -> DistillationPairs:
    """Training and validation pairs of one setting ('full' or 'low') and a key of their contents;
    `vocabulary` WordNet nouns (None: all) in `vocabulary_form` join the training pairs (the embedded
    profile's only)."""
    extra = None
    if vocabulary != 0:
        if records.kind(profile) != records.EMBEDDED:
            raise TomclipError(
                "A WordNet vocabulary needs the teacher's text tower to make its targets; the paper profile "
                "trains on precomputed targets. Set converged_vocabulary to 0 there."
            )
        extra = vocabulary_pairs(corpus, vocabulary, vocabulary_form)
    return _pairs(corpus, student_config, lambda pairs: targets_of(profile, pairs), setting, extra)


def _pairs(
    corpus: pd.DataFrame, student_config: StudentConfig, targets_of, setting: str, extra: pd.DataFrame | None = None
) -> DistillationPairs:
    """Training and validation pairs of one setting: student inputs, the teacher's targets, a key.

    With a frozen backbone the inputs are its cached pooled features of the translated captions;
    when its top k layers train, the cached token states that enter them; when all of it trains,
    the captions. `targets_of(pairs)` gives the targets of a split's rows; `extra` rows join the
    training split.
    """
    probe = None if student_config.trainable_layers == "all" else Student(student_config)
    train = split_pairs(corpus, "train", setting)
    if extra is not None:
        train = pd.concat([train, extra], ignore_index=True)
    splits, digest = [], hashlib.sha256()
    for split in (train, split_pairs(corpus, "validation")):
        texts, english = list(split["text"]), list(split["en"])
        inputs = (
            texts
            if probe is None
            else probe.cached_features(texts)
            if student_config.frozen
            else probe.cached_inputs(texts)
        )
        targets = torch.from_numpy(np.ascontiguousarray(targets_of(split)))
        groups = torch.from_numpy(pd.factorize(split["en"])[0].astype(np.int64))  # rows of one English caption
        splits.append(DistillationSplit(inputs, targets, groups))
        # The key covers the numbers themselves, so changed features retrain what depends on them.
        digest.update(records.fingerprint(texts, english).encode())
        digest.update(inputs.numpy().tobytes() if isinstance(inputs, torch.Tensor) else b"texts")
        digest.update(targets.numpy().tobytes())
    return DistillationPairs(splits[0], splits[1], digest.hexdigest()[:16], 0 if extra is None else len(extra))


def data_key(row: GridRow, student: StudentConfig, setting: str) -> tuple[int | str, str, int | None, str]:
    """Which pairs a row's runs in one setting train on: the student's inputs differ (pooled features
    of a frozen backbone, token states of its frozen layers otherwise), and a row may add WordNet's
    nouns to its training pairs (GridRow.vocabulary, GridRow.vocabulary_form)."""
    return student.trainable_layers, setting, row.vocabulary, row.vocabulary_form


def grid_pairs(
    profile: str, corpus: pd.DataFrame, student_config: StudentConfig, rows: list[GridRow]
) -> dict[tuple[int | str, str, int | None, str], DistillationPairs]:
    """The pairs of every data_key the grid's rows need."""
    needed = dict.fromkeys(
        data_key(row, student_of(row, student_config), setting) for row in rows for setting in row.settings
    )
    return {
        (layers, setting, vocabulary, form): setting_pairs(
            profile, corpus, replace(student_config, trainable_layers=layers), setting, vocabulary, form
        )
        for layers, setting, vocabulary, form in needed
    }


def train_grid(
    profile: str,
    base: TrainConfig,
    student_config: StudentConfig,
    rows: list[GridRow],
    seeds: dict[str, list[int]],
    data: dict[tuple[int | str, str, int | None, str], DistillationPairs],
    progress: bool = True,
    processes: int = 1,
) -> pd.DataFrame:
    """Train (or load) every (setting, model, seed); one row per run with its folder and scores.

    `data` holds the pairs of each data_key, as grid_pairs gives them.
    With processes > 1, torchrun first trains the unfinished runs on that many processes (one per
    GPU; the batch is the global batch, docs/training-at-scale.md), and this loop then loads them.
    """
    grid = list(_grid(profile, base, student_config, rows, seeds, data))
    if processes != 1:
        _train_under_torchrun(profile, grid, data, base.batch_size, processes)
    table = []
    for row, config, student, folder in grid:
        pairs = data[data_key(row, student, config.setting)]
        result = train_student(
            config, Student(student, seed=config.seed), pairs.train, pairs.validation, folder, progress=progress
        )
        metrics = json.loads((folder / METRICS).read_text())
        table.append(
            dict(
                variant=row.name,
                objective=row.variant,
                baseline=row.baseline,
                trainable_layers=student.trainable_layers,
                setting=config.setting,
                vocabulary=pairs.vocabulary,
                vocabulary_form=row.vocabulary_form,
                seed=config.seed,
                best_validation=result.best_validation,
                best_epoch=result.best_epoch,
                epochs=result.epochs,
                seconds=result.seconds,
                ms_per_step=1000 * result.seconds / max(metrics["steps"], 1),
                topological_share_start=topological_share(metrics["balance_start"]),
                topological_share_best=topological_share(metrics["balance_best"]),
                topological_gradient_start=topological_share(metrics["balance_start"], "gradient"),
                topological_gradient_best=topological_share(metrics["balance_best"], "gradient"),
                run_dir=str(folder),
            )
        )
    return pd.DataFrame(table)


def topological_share(balance: dict, kind: str = "loss") -> float:
    """The share of every term but the point-wise one (train.term_balance)."""
    return sum(shares[kind] for name, shares in balance.items() if name != "pointwise")


def _grid(
    profile: str,
    base: TrainConfig,
    student_config: StudentConfig,
    rows: list[GridRow],
    seeds: dict[str, list[int]],
    data: dict[tuple[int | str, str, int | None, str], DistillationPairs],
):
    """Every run of the grid, (row, configuration, student configuration, folder), in table order."""
    for setting in ("full", "low"):
        for row in rows:
            if setting not in row.settings:
                continue
            student = student_of(row, student_config)
            key = data[data_key(row, student, setting)].key
            for seed in seeds[setting][: row.seeds]:
                epochs = row.training.get("max_epochs", base.max_epochs)
                training = {**row.training, "max_epochs": min(epochs, base.max_epochs) if row.capped else epochs}
                config = replace(base, variant=row.variant, weights=row.weights, setting=setting, seed=seed, **training)
                yield row, config, student, records.run_dir(profile, config, student, key)


def _train_under_torchrun(profile: str, grid: list, data: dict, batch_size: int, processes: int) -> None:
    distributed.check_batch_size(batch_size, processes)
    pending = [
        (config, student, folder, _data_name(*data_key(row, student, config.setting)))
        for row, config, student, folder in grid
        if not (folder / METRICS).exists()
    ]
    if pending:
        needed = {name for *_, name in pending}
        path = write_grid(
            paths.artifacts_dir(profile) / "students" / GRID,
            pending,
            {
                _data_name(*key): (pairs.train, pairs.validation)
                for key, pairs in data.items()
                if _data_name(*key) in needed
            },
        )
        distributed.launch(["tomclip_lib.train", str(path)], processes)
        path.unlink()  # a copy of the pairs (gigabytes in the paper profile): the runs are in their folders now


def _data_name(layers: int | str, setting: str, vocabulary: int | None, form: str) -> str:
    """A name of one entry of `data` in the file torchrun's processes read."""
    return f"{layers}-{setting}-{vocabulary}-{form}"


def balance_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model and setting: the topological terms' share of the loss and of its gradient norm on
    the largest validation batch, at the start and at the best epoch (mean over seeds, percent)."""
    columns = {
        "topological_share_start": "loss share at start",
        "topological_share_best": "loss share at best",
        "topological_gradient_start": "gradient share at start",
        "topological_gradient_best": "gradient share at best",
    }
    table = runs.groupby(["variant", "setting"], sort=False)[list(columns)].mean().mul(100).rename(columns=columns)
    table["ms per step"] = runs.groupby(["variant", "setting"], sort=False)["ms_per_step"].median()
    return table.reset_index().rename(columns={"variant": "model"})
