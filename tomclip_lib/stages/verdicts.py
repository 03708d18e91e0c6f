"""Notebook 04's verdict: every model against its MCLIP, paired by seed and test item, computed from
the per-item records alone (stages.tables), within families declared before the run.

A comparison is (model, setting, task). Its family (params 04_evaluate.families) is corrected with
Holm; its smallest effect of interest (smallest_effect, points per task) separates "equivalent"
from "inconclusive"; one (setting, task) of the primary family is the primary endpoint
(primary_endpoint), the one the headline leads with; docs/statistics.md gives the reasoning for
each declared value.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from .. import statistics
from ..errors import TomclipError
from .tables import RETRIEVAL_RR_TASK, RETRIEVAL_TASK, ZERO_SHOT_TASK


def _hit(ranks: np.ndarray) -> np.ndarray:
    return (ranks < 1).astype(np.float64)


def _reciprocal(ranks: np.ndarray) -> np.ndarray:
    return 1.0 / (ranks.astype(np.float64) + 1.0)


#: Each task: its records ("zero-shot" or "retrieval", text -> image), its item column and the per-item
#: score of a rank (0 is the true partner first), in the units the difference is reported in / 100.
TASKS = {
    ZERO_SHOT_TASK: ("zero-shot", "image", _hit),
    RETRIEVAL_TASK: ("retrieval", "item", _hit),
    RETRIEVAL_RR_TASK: ("retrieval", "item", _reciprocal),
}
PRIMARY = "primary"  # the family whose model the primary endpoint belongs to


def _cube(item_ranks: pd.DataFrame, item: str, score=_hit) -> tuple[list[int], np.ndarray]:
    """A run set's per-item scores as (seeds, languages, items), with its seeds in order."""
    ordered = item_ranks.sort_values(["seed", "language", item], kind="stable")
    seeds = [int(seed) for seed in ordered["seed"].unique()]
    languages, items = ordered["language"].nunique(), ordered[item].nunique()
    if len(ordered) != len(seeds) * languages * items:
        raise TomclipError(
            f"the records of {item_ranks['model'].iloc[0]!r} ({item_ranks['setting'].iloc[0]}) are not one score per "
            f"(seed, language, item): rerun notebook 04 to rewrite them."
        )
    return seeds, score(ordered["rank"].to_numpy()).reshape(len(seeds), languages, items)


def _task_scores(zero_shot: pd.DataFrame, retrieval: pd.DataFrame):
    """For each task, the records' run sets by (model, setting), their item column and the item score."""
    records = {"zero-shot": zero_shot, "retrieval": retrieval[retrieval["direction"] == "text_to_image"]}
    for task, (source, item, score) in TASKS.items():
        students = records[source][records[source]["seed"].notna()]
        yield task, dict(iter(students.groupby(["model", "setting"], observed=True, sort=False))), item, score


def _family_of(families: dict[str, list[str]], compared: list[str]) -> dict[str, str]:
    """Each compared model's declared family; a compared model that no family declares stops the run."""
    family_of = {model: family for family, models in families.items() for model in models}
    undeclared = [model for model in compared if model not in family_of]
    if undeclared:
        hints = {model: difflib.get_close_matches(model, family_of, n=1) for model in undeclared}
        raise TomclipError(
            "these models are compared with MCLIP but no family in params 04_evaluate.families declares them: "
            + ", ".join(
                f"{model!r}" + (f" (did you mean {hints[model][0]!r}?)" if hints[model] else "") for model in undeclared
            )
            + ". Declare every comparison before the run."
        )
    return family_of


def paired_comparisons(
    zero_shot: pd.DataFrame,
    retrieval: pd.DataFrame,
    runs: pd.DataFrame,
    families: dict[str, list[str]],
    smallest_effect: dict[str, float],
    alpha: float = 0.05,
    power: float = 0.8,
    primary_endpoint: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Every trained model with a baseline (runs' `baseline` column) against it, per setting and
    task, in points: the mean over seeds of the language-averaged difference with its t interval
    over seeds and items (statistics.paired_difference), the unadjusted and Holm-adjusted p-values
    of the difference and of equivalence within +-delta, the minimum detectable effect at `power`
    (unadjusted, and at the Bonferroni level of the family: Holm's first step), the verdict, and the
    interval's simulated coverage at the variance components this comparison estimates.
    `primary_endpoint` ({"setting", "task"}) marks the primary family's row that the headline leads
    with (column `primary endpoint`)."""
    missing = set(TASKS) - set(smallest_effect)
    if missing:
        raise TomclipError(f"params 04_evaluate.smallest_effect needs a value in points for {sorted(missing)}.")
    _check_endpoint(primary_endpoint)
    baselines = runs.dropna(subset=["baseline"]).drop_duplicates("variant").set_index("variant")
    family_of = _family_of(families, list(baselines.index))
    rows = []
    for task, run_sets, item, score in _task_scores(zero_shot, retrieval):
        for (model, setting), item_ranks in run_sets.items():
            if model not in baselines.index or (baselines.at[model, "baseline"], setting) not in run_sets:
                continue
            baseline = baselines.at[model, "baseline"]
            seeds, ours = _cube(item_ranks, item, score)
            baseline_seeds, theirs = _cube(run_sets[baseline, setting], item, score)
            paired = [seed for seed in seeds if seed in baseline_seeds]
            ours = ours[[seeds.index(seed) for seed in paired]]
            theirs = theirs[[baseline_seeds.index(seed) for seed in paired]]
            differences = (ours - theirs).mean(axis=1)
            result = statistics.paired_difference(differences, level=1 - alpha)
            delta = smallest_effect[task] / 100
            rows.append(
                {
                    "family": family_of[model],
                    "setting": setting,
                    "task": task,
                    "model": model,
                    "objective": baselines.at[model, "objective"],
                    "baseline": baseline,
                    "score": 100 * ours.mean(),
                    "baseline score": 100 * theirs.mean(),
                    **{name: 100 * getattr(result, name) for name in ("difference", "se", "ci_low", "ci_high")},
                    "df": result.df,
                    "p_value": result.p_value,
                    "delta": 100 * delta,
                    "p_equivalence": statistics.equivalence_p_value(result.difference, result.se, result.df, delta),
                    "mde": 100 * statistics.minimum_detectable_effect(result.se, result.df, alpha, power),
                    "seeds": result.seeds,
                    "items": result.items,
                    "languages": ours.shape[1],
                    "wins": result.wins,
                    "seed_share": result.seed_share,
                    "coverage": statistics.coverage_at(
                        *statistics.mean_squares(differences), *differences.shape, level=1 - alpha
                    )
                    if len(paired) > 1
                    else np.nan,
                }
            )
    table = pd.DataFrame(rows)
    order = {family: i for i, family in enumerate(families)}
    table = table.sort_values("family", key=lambda column: column.map(order), kind="stable").reset_index(drop=True)
    table["primary endpoint"] = (
        (table["family"] == PRIMARY)
        & (table["setting"] == (primary_endpoint or {}).get("setting"))
        & (table["task"] == (primary_endpoint or {}).get("task"))
    )
    if primary_endpoint is not None and not table["primary endpoint"].any():
        raise TomclipError(
            f"the declared primary endpoint {primary_endpoint!r} matches no comparison of the {PRIMARY!r} family: "
            "train its model in that setting, or declare an endpoint this run has."
        )
    return _adjust(table, alpha, power)


def _check_endpoint(primary_endpoint: dict[str, str] | None) -> None:
    """A declared primary endpoint names a setting and one of TASKS."""
    if primary_endpoint is None:
        return
    if (
        set(primary_endpoint) != {"setting", "task"}
        or primary_endpoint["setting"] not in ("low", "full")
        or primary_endpoint["task"] not in TASKS
    ):
        raise TomclipError(
            f"params 04_evaluate.primary_endpoint must be {{setting: low or full, task: one of {sorted(TASKS)}}}, "
            f"got {primary_endpoint!r}."
        )


def _adjust(table: pd.DataFrame, alpha: float, power: float) -> pd.DataFrame:
    """Holm within each family, the family-level MDE, and the verdicts, adjusted and not."""
    parts = []
    for _, part in table.groupby("family", sort=False):
        part = part.assign(
            p_holm=statistics.holm(part["p_value"]),
            p_equivalence_holm=statistics.holm(part["p_equivalence"]),
            mde_family=[
                100 * statistics.minimum_detectable_effect(se / 100, df, alpha / len(part), power)
                for se, df in zip(part["se"], part["df"])
            ],
        )
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    table["verdict"] = [
        statistics.verdict(p, q, d, alpha)
        for p, q, d in zip(table["p_holm"], table["p_equivalence_holm"], table["difference"])
    ]
    table["verdict_unadjusted"] = [
        statistics.verdict(p, q, d, alpha)
        for p, q, d in zip(table["p_value"], table["p_equivalence"], table["difference"])
    ]
    table["interval"] = [
        f"[{statistics.format_bound(low)}, {statistics.format_bound(high)}]"
        for low, high in zip(table["ci_low"], table["ci_high"])
    ]
    return table


def early_stopping_check(
    comparisons: pd.DataFrame, primary: str = "primary", fixed: str = "sensitivity"
) -> pd.DataFrame:
    """The primary comparisons beside the same objectives trained a fixed number of epochs (family
    `fixed`): early stopping picks each arm's own epoch, so it can make a difference that training
    alike does not. `differs` flags a verdict that changes."""
    keys = ["objective", "setting", "task"]
    columns = ["model", "difference", "interval", "verdict"]
    both = comparisons[comparisons["family"] == primary][keys + columns].merge(
        comparisons[comparisons["family"] == fixed][keys + columns], on=keys, suffixes=("", " (fixed epochs)")
    )
    both["differs"] = both["verdict"] != both["verdict (fixed epochs)"]
    return both.drop(columns="objective")
