"""Notebook 03's weight sweep: ToMCLIP's topological weight chosen on validation (an ablation of the
grid's weights, run before the grid so that the grid can train the chosen weights)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ..train import TrainConfig
from .ablations import AblationContext, ablation, ablation_summary, best_setting
from .grid import scaled_weights


def weight_sweep(
    context: AblationContext, base: TrainConfig, weights: list[float], factor: float
) -> tuple[pd.DataFrame, dict[str, float] | None]:
    """ToMCLIP with both topological weights equal to each of `weights` and to the paper-balanced
    0.01 * factor, and MCLIP, in the low-resource setting with every seed; the ToMCLIP weights with
    the best validation R@1 (never a test number) are returned as the chosen ones. Runs are cached
    with the keys of the main grid, so the chosen and balanced runs are not trained twice."""
    columns = [
        "setting",
        "weight",
        "seeds",
        "validation R@1 mean",
        "validation R@1 sd",
        "retrieval R@1 mean",
        "retrieval R@1 sd",
        "zero-shot top-1 mean",
        "zero-shot top-1 sd",
        "ms per step",
    ]
    if not weights:
        return pd.DataFrame(columns=columns), None
    base = replace(base, setting="low")
    balanced = 0.01 * factor
    grid = sorted(set(weights) | {balanced})

    def label(weight: float) -> str:
        notes = [
            note for value, note in ((balanced, "paper-balanced"), (0.01, "the paper's raw number")) if weight == value
        ]
        return f"ToMCLIP, w = {weight:.3g}" + (f" ({', '.join(notes)})" if notes else "")

    settings = [("MCLIP", {"weight": 0.0}, replace(base, variant="MCLIP", weights=scaled_weights("MCLIP", factor)))] + [
        (
            label(w),
            {"weight": w},
            replace(base, variant="ToMCLIP", weights={"pointwise": 1.0, "distance_matrix": w, "topology_h0": w}),
        )
        for w in grid
    ]
    summary = ablation_summary(ablation(context, "weight sweep", settings))
    best, _ = best_setting(summary[summary["weight"] > 0])
    return summary[columns], {label: config for label, _, config in settings}[best["setting"]].weights
