"""Notebook 03's dose-response sweep (issue 29): ToMCLIP's and ToMA's topological weight from where
the terms do nothing, through the region where they start to act, to collapse; each run with its
measured share of the loss and of the gradient, the structural coherence of its held-out validation
captions and its retrieval, paired with MCLIP by seed and item. ToMCLIP's weight for the main grid
("ToMCLIP (chosen)") is chosen here on validation reciprocal rank, never on a test number.

Run before the grid so that the grid can train the chosen weights; its runs share the grid's cache.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np
import pandas as pd

from .. import report, statistics
from ..analysis import coherence as metrics
from ..errors import TomclipError
from ..evaluate import language_recall_at_1
from ..train import VARIANTS, TrainConfig
from . import tables
from .ablations import AblationContext, train_run
from .coherence import held_out_pairs
from .distillation import targets_of, topological_share

#: Coherence endpoints of the dose-response (analysis.coherence) and the retrieval one, per split.
COHERENCE_ENDPOINTS = ["l_ta", "l_dm", "fidelity"]
RECIPROCAL_RANK, RANK_SPLITS = "reciprocal rank", ["validation", "test"]
MIN_COHERENCE_BATCH = 3  # the fewest held-out captions of a coherence batch (a neighbour, three distance pairs)
_RUN = ["model", "weight", "seed"]


class SweepRecords(NamedTuple):
    """What the sweep measured: per run (runs), per retrieval query (ranks), per held-out batch (coherence)."""

    runs: pd.DataFrame
    ranks: pd.DataFrame
    coherence: pd.DataFrame


def swept_weights(model: str, weight: float) -> dict[str, float]:
    """The objective's weights with every topological term at `weight` (ToMCLIP: both of its terms)."""
    if model not in VARIANTS:
        raise TomclipError(f"sweep_models: {model!r} is not an objective of train.VARIANTS ({', '.join(VARIANTS)}).")
    return {name: 1.0 if name == "pointwise" else weight for name in VARIANTS[model]}


def sweep_grid(models: list[str], weights: list[float], factor: float) -> list[tuple[str, float]]:
    """(model, weight) of every sweep setting: MCLIP (weight 0), then each model at each weight and at
    the paper-balanced 0.01 * factor, weights ascending."""
    if any(not weight > 0 for weight in weights):
        raise TomclipError(f"sweep_weights must be positive (MCLIP, weight 0, is always in the sweep); got {weights}.")
    grid = sorted(set(weights) | {0.01 * factor})
    return [("MCLIP", 0.0)] + [(model, weight) for model in models for weight in grid]


def run_sweep(
    context: AblationContext,
    base: TrainConfig,
    models: list[str],
    weights: list[float],
    factor: float,
    held_out: pd.DataFrame,
    targets: np.ndarray,
    batch_size: int,
    neighbours: int = metrics.DEFAULT_NEIGHBOURS,
) -> SweepRecords:
    """Train (or load) every setting of sweep_grid with every seed of the context, low-resource, and
    measure it: scores (validation and test R@1 and reciprocal rank, zero-shot top-1), the topological terms'
    share of the loss and of the gradient norm at the best epoch, every query's rank, and the coherence
    of `held_out` captions (stages.coherence.held_out_pairs of the validation split) against `targets`."""
    if not weights:  # no sweep (the paper profile trains the paper's own weights)
        return SweepRecords(pd.DataFrame(columns=_RUN), pd.DataFrame(columns=_RUN), pd.DataFrame(columns=_RUN))
    base = replace(base, setting="low")
    run_rows, rank_frames, coherence_frames = [], [], []
    splits = (context.validation, context.test)  # in RANK_SPLITS' order
    for model, weight in sweep_grid(models, weights, factor):
        config = replace(base, variant=model, weights=swept_weights(model, weight))
        for seed in context.seeds:
            student, result, run_metrics = train_run(context, config, seed)
            keys = {"model": model, "weight": weight, "seed": seed}
            split_ranks = {split: queries.ranks(student.encode) for split, queries in zip(RANK_SPLITS, splits)}
            recall = {split: language_recall_at_1(by_language) for split, by_language in split_ranks.items()}
            per_language = [statistics.exact_mean(1 / (r + 1.0)) for r in split_ranks["validation"].values()]
            rr = statistics.exact_mean(per_language)  # exact sums: it chooses a weight, its bits must not move
            zero_shot = tables.zero_shot_top1(student, context.teacher, context.images, context.languages)
            run_rows.append(
                {
                    **keys,
                    "paper-balanced": weight == 0.01 * factor,
                    "epochs": result.epochs,
                    "ms per step": 1000 * result.seconds / max(run_metrics["steps"], 1),
                    "loss share": topological_share(run_metrics["balance_best"]),
                    "gradient share": topological_share(run_metrics["balance_best"], "gradient"),
                    "validation reciprocal rank": rr,
                    "validation R@1": recall["validation"],
                    "retrieval R@1": recall["test"],
                    "zero-shot top-1": zero_shot,
                }
            )
            rank_frames += [
                pd.DataFrame({**keys, "split": split, "language": language, "query": np.arange(len(r)), "rank": r})
                for split, by_language in split_ranks.items()
                for language, r in by_language.items()
            ]
            if len(held_out):
                coherence_frames.append(
                    metrics.coherence_table(
                        student.encode(list(held_out["text"]), normalize=False),
                        targets,
                        held_out["lang"].to_numpy(),
                        batch_size=batch_size,
                        neighbours=neighbours,
                    ).assign(**keys)
                )
    ranks = pd.concat(rank_frames, ignore_index=True)
    ranks = ranks.astype({"split": "category", "language": "category", "query": np.int32, "rank": np.int32})
    columns = [*_RUN, *metrics.TABLE_COLUMNS]
    coherence = (
        pd.concat(coherence_frames, ignore_index=True)[columns] if coherence_frames else pd.DataFrame(columns=columns)
    )
    return SweepRecords(pd.DataFrame(run_rows), ranks, coherence)


def write_sweep(profile: str, records: SweepRecords) -> None:
    """results/<profile>/sweep_runs (one row per run), items_sweep_ranks.parquet and
    items_sweep_coherence.parquet (per query, per batch): every sweep table and figure reads these."""
    report.save_table(records.runs, "sweep_runs", profile, floatfmt=".4g", caption="The weight sweep: one row per run.")
    report.save_records(records.ranks, "items_sweep_ranks", profile, sort_by=["split", "language", "query"])
    report.save_records(records.coherence, "items_sweep_coherence", profile, sort_by=["language", "batch"])


def measure_sweep(
    profile: str,
    corpus: pd.DataFrame,
    context: AblationContext,
    base: TrainConfig,
    models: list[str],
    weights: list[float],
    factor: float,
    batch_size: int,
    coherence_batches: int | None,
) -> SweepRecords:
    """run_sweep with the coherence measured on the first `coherence_batches` training-sized batches
    per language of the validation captions (k of the kNN overlap: 10, or one less than the smallest
    batch where a language has fewer validation captions; a language whose batches would hold fewer
    than MIN_COHERENCE_BATCH captions is left out of the coherence), its records written (write_sweep)."""
    held_out = held_out_pairs(corpus, context.languages, "validation", batch_size, coherence_batches)
    smallest = {
        language: min(len(rows) for rows in metrics.training_sized_batches(count, batch_size))
        for language, count in held_out.groupby("lang").size().items()
    }
    kept = [language for language, size in smallest.items() if size >= MIN_COHERENCE_BATCH]
    held_out = held_out[held_out["lang"].isin(kept)]
    neighbours = min([metrics.DEFAULT_NEIGHBOURS] + [smallest[language] - 1 for language in kept])
    measured = run_sweep(
        context, base, models, weights, factor, held_out, targets_of(profile, held_out), batch_size, neighbours
    )
    if not measured.runs.empty:
        write_sweep(profile, measured)
    return measured


def chosen_weights(runs: pd.DataFrame) -> dict[str, float] | None:
    """ToMCLIP's weights at chosen_weight (None: nothing was swept)."""
    weight = chosen_weight(runs)
    return None if weight is None else swept_weights("ToMCLIP", weight)


def chosen_weight(runs: pd.DataFrame) -> float | None:
    """ToMCLIP's weight with the highest validation reciprocal rank (mean over seeds); a tie goes to
    the smaller weight (an explicit rule). Reciprocal rank, not R@1: R@1 over a few hundred
    near-synonymous emoji tied three settings to the last digit (docs/fair-test.md)."""
    tomclip = runs[runs["model"] == "ToMCLIP"]
    if tomclip.empty:
        return None
    means = tomclip.groupby("weight")["validation reciprocal rank"].agg(statistics.exact_mean).sort_index()
    return float(means.index[np.argmax(means.to_numpy())])


def score_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per setting: seeds, mean shares (percent), epochs, and mean and sd over seeds of each score
    (percent), whether validation chose it: the sweep as a reader scans it."""
    scores = ["validation reciprocal rank", "validation R@1", "retrieval R@1", "zero-shot top-1"]
    if runs.empty:
        return pd.DataFrame()
    grouped = runs.groupby(["model", "weight"], sort=False)
    table = grouped[["paper-balanced"]].first()
    table["seeds"] = grouped["seed"].count()
    table["loss share (%)"] = 100 * grouped["loss share"].mean()
    table["gradient share (%)"] = 100 * grouped["gradient share"].mean()
    table["epochs"] = grouped["epochs"].mean()
    for score in scores:
        table[f"{score} mean"] = 100 * grouped[score].mean()
        table[f"{score} sd"] = 100 * grouped[score].std()
    table = table.reset_index()
    table.insert(3, "chosen", (table["model"] == "ToMCLIP") & (table["weight"] == chosen_weight(runs)))
    return table


def dose_response(records: SweepRecords, level: float = 0.95) -> pd.DataFrame:
    """Each swept (model, weight) minus MCLIP, per endpoint: coherence of held-out validation batches
    (L_ta, L_dm, fidelity; units (language, batch)) and reciprocal rank of retrieval (validation and
    test; units (language, query)), paired by seed and unit, with the t interval of
    statistics.paired_difference, beside the mean shares; a unit undefined in any run (a collapsed cloud) is left out."""
    runs = records.runs
    if runs.empty:
        return pd.DataFrame()
    shares = runs.groupby(["model", "weight"], sort=False)[["loss share", "gradient share"]].mean()
    reciprocal = records.ranks.assign(value=1.0 / (records.ranks["rank"] + 1.0))
    measured = COHERENCE_ENDPOINTS if len(records.coherence) else []  # none where no language had batches
    endpoints = [(name, "validation", records.coherence, name, ["language", "batch"]) for name in measured]
    endpoints += [
        (RECIPROCAL_RANK, split, reciprocal[reciprocal["split"] == split], "value", ["language", "query"])
        for split in RANK_SPLITS
    ]
    rows = []
    for endpoint, split, frame, column, units in endpoints:
        cubes = {
            key: part.pivot(index="seed", columns=units, values=column).sort_index(axis=1)
            for key, part in frame.groupby(["model", "weight"], sort=False, observed=True)
        }
        mclip = cubes[("MCLIP", 0.0)]
        for (model, weight), cube in cubes.items():
            if model == "MCLIP":
                continue
            seeds = sorted(set(cube.index) & set(mclip.index))
            ours, theirs = cube.loc[seeds].to_numpy(np.float64), mclip.loc[seeds].to_numpy(np.float64)
            observed = np.isfinite(ours).any(axis=0) | np.isfinite(theirs).any(axis=0)  # not a pivot's empty cell
            ours, theirs = ours[:, observed], theirs[:, observed]
            defined = np.isfinite(ours).all(axis=0) & np.isfinite(theirs).all(axis=0)
            if observed.sum() < 2:  # too few held-out items to pair (a fixture's split): no row
                continue
            if defined.sum() < 2:
                raise TomclipError(
                    f"{endpoint} is undefined (NaN) in nearly every batch of {model} at weight {weight:g} or of MCLIP: "
                    "a collapsed student (look at its training log), or batches of two captions (hold out more)."
                )
            result = statistics.paired_difference(ours[:, defined] - theirs[:, defined], level=level)
            rows.append(
                {
                    "model": model,
                    "weight": weight,
                    "loss share": shares.loc[(model, weight), "loss share"],
                    "gradient share": shares.loc[(model, weight), "gradient share"],
                    "endpoint": endpoint,
                    "split": split,
                    "better is": metrics.MORE_COHERENT.get(endpoint, "higher"),
                    "value": statistics.exact_mean(ours[:, defined]),
                    "MCLIP value": statistics.exact_mean(theirs[:, defined]),
                    "difference": result.difference,
                    "ci_low": result.ci_low,
                    "ci_high": result.ci_high,
                    "seeds": result.seeds,
                    "units": result.items,
                }
            )
    return pd.DataFrame(rows)
