"""Notebook 04's structural coherence (issue 29): is each student's point cloud shaped more like its
teacher's than MCLIP's is? The paper's first claim, and what the topological terms optimise.

For every run, on held-out captions batched as in training (analysis.coherence): L_ta and L_dm
between the student's cloud and the teacher's targets, the rank correlation of their pairwise
distances, the k-nearest-neighbour overlap and the fidelity (mean cosine to the target). The
records (one row per run, language and batch) are written first; each model is then paired with
its MCLIP by seed and by (language, batch), whose captions are the same for every run, with the
t interval of tomclip_lib.statistics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import records, report, statistics
from ..analysis import coherence as metrics
from ..errors import TomclipError
from .distillation import targets_of

#: The per-batch records: results/<profile>/items_coherence.parquet.
RECORDS = "items_coherence"
RECORD_COLUMNS = ["model", "setting", "seed", *metrics.TABLE_COLUMNS]


def held_out_pairs(
    corpus: pd.DataFrame, languages: list[str], split: str, batch_size: int, batches: int | None = None
) -> pd.DataFrame:
    """The `split` captions of `languages`, one per (language, English caption) as a training batch
    holds them, each language's rows in corpus order, languages in the order given (a language the
    split lacks is left out: the paper profile has no Korean pairs without the reference's CSV);
    with `batches`, only each language's first `batches` training-sized batches (make paper's budget)."""
    chosen = corpus[(corpus["split"] == split) & corpus["lang"].isin(languages)].drop_duplicates(["lang", "en"])
    present = [language for language in languages if language in set(chosen["lang"])]
    if not present:
        raise TomclipError(
            f"The corpus has no {split!r} captions in {list(languages)}: coherence is measured on held-out captions; "
            f"pass a split that has them (params 04_evaluate.coherence_split; the corpus has {sorted(set(corpus['split']))})."
        )
    parts = []
    for language in present:
        rows = chosen[chosen["lang"] == language]
        kept = metrics.training_sized_batches(len(rows), batch_size)[:batches]
        parts.append(rows.iloc[np.concatenate(kept)])
    targets = ["target_row"] if "target_row" in corpus else []  # the paper profile's rows of its CLIP features
    return pd.concat(parts, ignore_index=True)[["lang", "text", "en", *targets]]


def coherence_records(
    profile: str, runs: pd.DataFrame, pairs: pd.DataFrame, batch_size: int, neighbours: int = metrics.DEFAULT_NEIGHBOURS
) -> pd.DataFrame:
    """One row per (run, language, batch): every metric of analysis.coherence between the student's
    raw outputs (what its training loss compared) and the teacher's targets of the same captions."""
    teacher = targets_of(profile, pairs)
    languages = pairs["lang"].to_numpy()
    frames = [
        metrics.coherence_table(
            records.load_student(profile, run).encode(list(pairs["text"]), normalize=False),
            teacher,
            languages,
            batch_size=batch_size,
            neighbours=neighbours,
        ).assign(model=run.variant, setting=run.setting, seed=run.seed)
        for run in runs.itertuples()
    ]
    table = pd.concat(frames, ignore_index=True)[RECORD_COLUMNS]
    table["seed"] = table["seed"].astype("Int16")
    return table


def write_coherence_records(
    profile: str, runs: pd.DataFrame, pairs: pd.DataFrame, batch_size: int, neighbours: int = metrics.DEFAULT_NEIGHBOURS
) -> None:
    """Write results/<profile>/items_coherence.parquet (coherence_records), sorted by (language,
    batch) so that a unit's rows of every run sit side by side."""
    report.save_records(
        coherence_records(profile, runs, pairs, batch_size, neighbours),
        RECORDS,
        profile,
        sort_by=["language", "batch"],
    )


def paired_coherence(coherence: pd.DataFrame, runs: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Each model with a baseline (runs' `baseline` column) against it, per setting and metric: the
    mean over seeds and (language, batch) units of the model's metric minus its baseline's, with the
    t interval over seeds and units (statistics.paired_difference), its p-value, and whether the
    model is `more coherent` (the interval excludes 0 on the metric's coherent side), less, or
    neither ("no difference resolved"). A (language, batch) unit where a metric is undefined (NaN: a
    collapsed cloud's rank correlation, or a batch of two) in either run set is left out of that
    metric's pairing (`units` counts what remains); a metric undefined everywhere stops it."""
    baselines = runs.dropna(subset=["baseline"]).drop_duplicates("variant").set_index("variant")["baseline"]
    by_run = {key: part for key, part in coherence.groupby(["model", "setting"], observed=True, sort=False)}
    rows = []
    for (model, setting), ours in by_run.items():
        if model not in baselines.index or (baselines[model], setting) not in by_run:
            continue
        theirs = by_run[baselines[model], setting]
        seeds = sorted(set(ours["seed"].dropna()) & set(theirs["seed"].dropna()))
        for metric, side in metrics.MORE_COHERENT.items():
            ours_cube, theirs_cube = _cube(ours, metric, seeds), _cube(theirs, metric, seeds)
            defined = np.isfinite(ours_cube).all(axis=0) & np.isfinite(theirs_cube).all(axis=0)
            if not defined.any():
                raise TomclipError(
                    f"{metric} is undefined (NaN) in every batch of {model!r} or {baselines[model]!r} ({setting}): "
                    "a collapsed student (look at its training log), or batches of two captions (hold out more)."
                )
            ours_cube, theirs_cube = ours_cube[:, defined], theirs_cube[:, defined]
            result = statistics.paired_difference(ours_cube - theirs_cube, level=level)
            closer = (result.ci_low, result.ci_high) if side == "higher" else (-result.ci_high, -result.ci_low)
            rows.append(
                {
                    "setting": setting,
                    "model": model,
                    "baseline": baselines[model],
                    "metric": metric,
                    "more coherent is": side,
                    "value": statistics.exact_mean(ours_cube),
                    "baseline value": statistics.exact_mean(theirs_cube),
                    **{name: getattr(result, name) for name in ("difference", "se", "ci_low", "ci_high", "df")},
                    "p_value": result.p_value,
                    "seeds": result.seeds,
                    "units": result.items,
                    "verdict": _direction(*closer),
                }
            )
    return pd.DataFrame(rows)


def _cube(part: pd.DataFrame, metric: str, seeds: list[int]) -> np.ndarray:
    """(seeds, units) of one run set's metric, units = (language, batch) in one order for every run."""
    wide = part.pivot(index="seed", columns=["language", "batch"], values=metric)
    return wide.loc[seeds].sort_index(axis=1).to_numpy(dtype=np.float64)


def _direction(low: float, high: float) -> str:
    """From an interval oriented so that positive is more coherent."""
    if low > 0:
        return "more coherent"
    if high < 0:
        return "less coherent"
    return "no difference resolved"


def summary(coherence: pd.DataFrame) -> pd.DataFrame:
    """Mean of each metric per model and setting over seeds and (language, batch) units, with the
    seeds' sd of the per-seed means: the level each student reaches, beside the paired differences."""
    per_seed = coherence.groupby(["model", "setting", "seed"], observed=True, sort=False)[metrics.METRICS].mean()
    grouped = per_seed.groupby(["model", "setting"], observed=True, sort=False)
    table = grouped.mean().add_suffix(" mean").join(grouped.std().add_suffix(" sd"))
    table.insert(0, "seeds", grouped.size())
    ordered = ["seeds"] + [f"{metric} {stat}" for metric in metrics.METRICS for stat in ("mean", "sd")]
    return table[ordered].reset_index()
