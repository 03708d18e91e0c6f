"""The grid of notebook 03: which students the main tables hold, and the weights they train with.

A row of the main tables is an objective (train.VARIANTS) at the paper's weights balanced for our
targets (balance_factor), in the settings it is trained in, with the backbone layers that train.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from ..data.vocabulary import FORMS
from ..errors import TomclipError
from ..models.student import StudentConfig
from ..train import VARIANTS


def trained_with_topology(model: str) -> bool:
    """Whether a model's objective has a topological term (its results then hinge on discrete
    choices: spanning-tree edges, kept edges); False for MCLIP and for encoders not trained here.
    A table's name is its objective, or the objective and a note in brackets ("ToMCLIP (chosen)")."""
    weights = VARIANTS.get(model.split(" (")[0], {})
    return any(value for name, value in weights.items() if name != "pointwise")


@dataclass(frozen=True)
class GridRow:
    """One row of the main tables, as the grid trains it: its name, its objective (train.VARIANTS)
    with the weights that replace the objective's own, how many backbone layers of the student train (None: as many as
    the grid's student configuration says), the settings it is trained in, the training
    settings that are its own (e.g. its epochs and learning rates), the row it is paired with in
    notebook 04, and how many seeds it trains (a costly row may train the first few only)."""

    name: str
    variant: str
    weights: dict = field(default_factory=dict)
    trainable_layers: int | str | None = None
    settings: tuple[str, ...] = ("full", "low")
    training: dict = field(default_factory=dict)  # TrainConfig fields that differ from the grid's
    baseline: str | None = "MCLIP"  # the row notebook 04 compares it with (None: it is a baseline)
    seeds: int | None = None  # how many of the setting's seeds it trains (None: all)
    # Whether the grid's max_epochs caps the row's own (a smoke run's limit holds for all); False for a
    # row whose length is the point of it (trained to convergence: its epochs exceed the grid's).
    capped: bool = True
    # WordNet nouns added to its training pairs as English pairs (0: none, None: all; docs/fidelity.md),
    # read as themselves, in the English prompt's form or in a caption's (data.vocabulary.FORMS).
    vocabulary: int | None = 0
    vocabulary_form: str = "noun"


#: The reference trains on CLIP ViT-B/32 text features, 512-d, not normalised (M-CLIP's targets).
REFERENCE_DIM = 512


def balance_factor(targets: torch.Tensor, reference_norm: float | None, reference_dim: int = REFERENCE_DIM) -> float:
    """By how much a topological weight must be multiplied here to weigh what it weighs in the paper.

    The point-wise MSE grows with the mean squared target entry; L_dm and L_ta compare
    max-normalised distances and do not. Multiplying the targets by c multiplies L_pw by c^2, so
    L_pw + w L_top on targets of mean squared entry E_ref is E_ref / E times L_pw + w' L_top on ours
    with w' = w E / E_ref (a constant factor, which Adam's updates ignore). E_ref = norm^2 / 512 for
    reference targets of norm `reference_norm`; None: the targets are the reference's own (factor 1).
    """
    if reference_norm is None:
        return 1.0
    if not reference_norm > 0:
        raise TomclipError(
            f"reference_target_norm must be positive (or None: the targets are the reference's), "
            f"got {reference_norm!r}."
        )
    return float(targets.double().square().mean()) / (reference_norm**2 / reference_dim)


def scaled_weights(variant: str, factor: float) -> dict[str, float]:
    """The objective's weights with every term but the point-wise one multiplied by `factor`."""
    return {name: value if name == "pointwise" else value * factor for name, value in VARIANTS[variant].items()}


def main_grid(
    variants: list[str],
    full_variants: list[str],
    factor: float,
    chosen: dict[str, float] | None,
    top_layers: int,
    top_layer_variants: list[str],
    top_layer_training: dict | None = None,
    top_layer_seeds: int | None = None,
    fixed_epochs: int | None = None,
    fixed_epoch_seeds: int | None = None,
    converged_epochs: int | None = None,
    converged_seeds: int | None = None,
    converged_vocabulary: int | None = 0,
    converged_vocabulary_form: str = "noun",
) -> list[GridRow]:
    """The rows of the main tables: each variant at the paper's weights balanced for our targets
    (`factor`, balance_factor), in both settings if it is among `full_variants`, else low-resource
    only; ToMCLIP at the weights validation chose ("ToMCLIP (chosen)"), low-resource, where the
    sweep chose it (make paper's budget); low-resource,
    `top_layer_variants` with the top `top_layers` backbone layers trained, with the training
    settings `top_layer_training` (TrainConfig fields: epochs, warm-up, the backbone's learning rate)
    on their first `top_layer_seeds` seeds; and, low-resource, MCLIP and ToMCLIP trained for exactly
    `fixed_epochs` epochs, no early stopping, on their first `fixed_epoch_seeds` seeds (None: all):
    the primary comparison with both arms stopped alike; and, in the full setting, MCLIP and ToMCLIP
    trained to convergence (`converged_epochs` epochs, a cosine decay of the rate, the last epoch
    kept) on their first `converged_seeds` seeds, with `converged_vocabulary` WordNet nouns added to
    their training pairs in `converged_vocabulary_form`: the student that learns its teacher
    (docs/fidelity.md)."""
    if converged_vocabulary_form not in FORMS:
        raise TomclipError(f"converged_vocabulary_form must be one of {FORMS}, got {converged_vocabulary_form!r}.")
    rows = [
        GridRow(
            name,
            name,
            scaled_weights(name, factor),
            settings=("full", "low") if name in full_variants else ("low",),
            baseline=None if name == "MCLIP" else "MCLIP",
        )
        for name in variants
    ]
    if chosen is not None and chosen != scaled_weights("ToMCLIP", factor):  # else the same students as "ToMCLIP"
        rows.append(GridRow("ToMCLIP (chosen)", "ToMCLIP", chosen, settings=("low",)))
    suffix = f"top layer{'s' if top_layers > 1 else ''}"
    if top_layers:
        rows += [
            GridRow(
                f"{name} ({suffix})",
                name,
                scaled_weights(name, factor),
                top_layers,
                ("low",),
                dict(top_layer_training or {}),
                baseline=None if name == "MCLIP" else f"MCLIP ({suffix})",
                seeds=top_layer_seeds,
            )
            for name in top_layer_variants
        ]
    if fixed_epochs:
        fixed = {"max_epochs": fixed_epochs, "patience": None}
        rows += [
            GridRow(
                "MCLIP (fixed epochs)",
                "MCLIP",
                settings=("low",),
                training=fixed,
                baseline=None,
                seeds=fixed_epoch_seeds,
            ),
            GridRow(
                "ToMCLIP (fixed epochs)",
                "ToMCLIP",
                scaled_weights("ToMCLIP", factor),
                settings=("low",),
                training=fixed,
                baseline="MCLIP (fixed epochs)",
                seeds=fixed_epoch_seeds,
            ),
        ]
    if converged_epochs:
        converged = {"max_epochs": converged_epochs, "patience": None, "lr_schedule": "cosine"}
        rows += [
            GridRow(
                f"{name} (converged)",
                name,
                scaled_weights(name, factor),
                settings=("full",),
                training=converged,
                baseline=None if name == "MCLIP" else "MCLIP (converged)",
                seeds=converged_seeds,
                capped=False,
                vocabulary=converged_vocabulary,
                vocabulary_form=converged_vocabulary_form,
            )
            for name in ("MCLIP", "ToMCLIP")
        ]
    return rows


def student_of(row: GridRow, student_config: StudentConfig) -> StudentConfig:
    """The grid's student configuration with the row's own number of trainable layers, if it has one."""
    if row.trainable_layers is None:
        return student_config
    return replace(student_config, trainable_layers=row.trainable_layers)
