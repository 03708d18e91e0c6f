"""Notebook 05's stage: students trained around one configuration, each knob varied with several
seeds, scored on validation (the only numbers to choose by) and test (notebook 03's weight sweep,
stages.sweep, is one such ablation; the teacher's own, stages.teacher.teacher_toma_ablation).

Each ablation's runs are recorded with the knob it varies as columns of its own (model, batch
size, s, mode, graph-H1 weight), so a table or figure is redrawn from its results file alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pandas as pd

from .. import evaluation_sets, records, report
from ..data.embedded import ZeroShotSet
from ..evaluate import RetrievalQueries
from ..models.student import Student, StudentConfig
from ..models.teacher import Teacher
from ..train import METRICS, TrainConfig, TrainResult, train_student
from . import tables
from .distillation import DistillationPairs, setting_pairs
from .grid import scaled_weights

#: One configuration of an ablation: a label for tables and legends, the values of the knobs it
#: sets (one column each in the records), and the training configuration.
Setting = tuple[str, dict, TrainConfig]


@dataclass(frozen=True)
class AblationContext:
    """What every ablation run shares: the low-resource pairs, the student, the seeds, the teacher
    and the three score sets (validation and test retrieval, zero-shot images)."""

    profile: str
    seeds: list[int]
    student_config: StudentConfig
    data: DistillationPairs
    teacher: Teacher
    images: ZeroShotSet
    test: RetrievalQueries
    validation: RetrievalQueries
    languages: list[str]

    @classmethod
    def build(
        cls,
        profile: str,
        corpus: pd.DataFrame,
        teacher: Teacher,
        student_config: StudentConfig,
        data: DistillationPairs,
        seeds: list[int],
        languages: list[str],
        zero_shot_limit: int | None = None,
    ) -> AblationContext:
        return cls(
            profile,
            seeds,
            student_config,
            data,
            teacher,
            evaluation_sets.zero_shot_set(profile, teacher.image_size, zero_shot_limit),
            evaluation_sets.retrieval_queries(profile, corpus, teacher, "test", languages),
            evaluation_sets.retrieval_queries(profile, corpus, teacher, "validation", languages),
            languages,
        )

    @classmethod
    def from_records(
        cls, profile: str, seeds: list[int], languages: list[str], zero_shot_limit: int | None = None
    ) -> AblationContext:
        """The context of notebook 05: notebook 03's student and low-resource pairs."""
        corpus = records.load_corpus(profile)
        _, student_config = records.load_runs(profile)
        return cls.build(
            profile,
            corpus,
            records.load_teacher(profile),
            student_config,
            setting_pairs(profile, corpus, student_config, "low"),
            seeds,
            languages,
            zero_shot_limit,
        )


def train_run(context: AblationContext, config: TrainConfig, seed: int) -> tuple[Student, TrainResult, dict]:
    """Train (or load) one configuration with one seed on the context's pairs: the student, the
    run's result and its metrics.json (steps, the terms' balance). Runs share the cache of notebook
    03: a configuration trained there is not trained again."""
    train, valid, data_key = context.data.train, context.data.validation, context.data.key
    config_seed = replace(config, seed=seed)
    student = Student(context.student_config, seed=seed)
    result = train_student(
        config_seed,
        student,
        train,
        valid,
        records.run_dir(context.profile, config_seed, context.student_config, data_key),
    )
    return student, result, json.loads((result.run_dir / METRICS).read_text())


def ablation(context: AblationContext, name: str, settings: list[Setting]) -> pd.DataFrame:
    """Train (or load) each configuration with each seed and score it; one row per run, with the
    knobs of its setting as columns. Runs share the cache of notebook 03: a configuration trained
    there is not trained again."""
    rows = []
    for label, knobs, config in settings:
        for seed in context.seeds:
            student, result, metrics = train_run(context, config, seed)
            rows.append(
                {
                    "ablation": name,
                    "setting": label,
                    **knobs,
                    "seed": seed,
                    "epochs": result.epochs,
                    "ms per step": 1000 * result.seconds / max(metrics["steps"], 1),
                    **tables.summary_scores(
                        student, context.teacher, context.images, context.test, context.validation, context.languages
                    ),
                }
            )
    return pd.DataFrame(rows)


def ablation_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over seeds of each setting's scores (percent) and its cost per step, with the
    setting's knobs as columns."""
    metrics = ["validation R@1", "retrieval R@1", "zero-shot top-1"]
    knobs = list(runs.columns[runs.columns.get_loc("setting") + 1 : runs.columns.get_loc("seed")])
    grouped = runs.groupby("setting", sort=False)
    table = grouped[knobs].first() if knobs else pd.DataFrame(index=grouped.size().index)
    table["seeds"] = grouped["seed"].count()
    for metric in metrics:
        table[f"{metric} mean"] = 100 * grouped[metric].mean()
        table[f"{metric} sd"] = 100 * grouped[metric].std()
    table["ms per step"] = grouped["ms per step"].median()
    return table.reset_index()


def save_ablation(context: AblationContext, name: str, runs: pd.DataFrame, title: str) -> pd.DataFrame:
    """Write an ablation's runs (results/<profile>/ablation_<name>_runs) and its summary
    (ablation_<name>), and return the summary."""
    summary = ablation_summary(runs)
    caption = f"{title} (low-resource, {len(context.seeds)} seeds)."
    report.save_table(
        runs,
        f"ablation_{name}_runs",
        context.profile,
        floatfmt=_formats(runs, ".4f"),
        caption=caption + " One row per run.",
    )
    report.save_table(summary, f"ablation_{name}", context.profile, floatfmt=_formats(summary, ".2f"), caption=caption)
    return summary


def _formats(table: pd.DataFrame, scores: str) -> list[str]:
    """Each column's number format: a knob as written (a weight of 0.001 stays 0.001), scores in `scores`."""
    knobs = table.columns[
        table.columns.get_loc("setting") + 1 : table.columns.get_loc("seed" if "seed" in table else "seeds")
    ]
    return ["g" if column in knobs else scores for column in table.columns]


def batch_size(context: AblationContext, base: TrainConfig, factor: float, sizes: list[int]) -> pd.DataFrame:
    """MCLIP and ToMCLIP at the paper-balanced weights, at each batch size (the paper's Figure 5)."""
    return ablation(
        context,
        "batch size",
        [
            (
                f"{model}, batch {size}",
                {"model": model, "batch size": size},
                replace(base, variant=model, batch_size=size, weights=scaled_weights(model, factor)),
            )
            for model in ("MCLIP", "ToMCLIP")
            for size in sizes
        ],
    )


def sparsification(
    context: AblationContext, base: TrainConfig, weights: dict, scales: list[float | None]
) -> pd.DataFrame:
    """ToMCLIP at `weights` with each sparsification scale s (None: the complete graph, s empty)."""
    return ablation(
        context,
        "sparsification",
        [
            (
                f"s = {'off' if s is None else s}",
                {"s": s},
                replace(base, variant="ToMCLIP", weights=weights, sparsify=s),
            )
            for s in scales
        ],
    )


def lta_mode(context: AblationContext, base: TrainConfig, weights: dict) -> pd.DataFrame:
    """ToMCLIP(ta) at ToMCLIP's L_ta weight, exact against the reference's sliced estimate."""
    return ablation(
        context,
        "L_ta mode",
        [
            (
                f"mode {mode}",
                {"mode": mode},
                replace(base, variant="ToMCLIP(ta)", weights={"topology_h0": weights["topology_h0"]}, mode=mode),
            )
            for mode in ("exact", "reference")
        ],
    )


def graph_h1(context: AblationContext, base: TrainConfig, weights: dict, h1_weight: float) -> pd.DataFrame:
    """ToMCLIP at `weights` without and with the graph-H1 term at `h1_weight`."""
    return ablation(
        context,
        "graph H1",
        [
            ("H1 off", {"h1 weight": 0.0}, replace(base, variant="ToMCLIP", weights=weights)),
            (
                f"H1 on (gamma {h1_weight:g})",
                {"h1 weight": h1_weight},
                replace(base, variant="ToMCLIP", weights={**weights, "topology_h1": h1_weight}),
            ),
        ],
    )


def best_setting(summary: pd.DataFrame, metric: str = "validation R@1 mean") -> tuple[pd.Series, list[str]]:
    """The row with the highest `metric` and the settings tied with it. Ties go to the first row in
    the table's own order (an explicit rule: an unstable sort would pick by memory layout)."""
    best = summary[metric].max()
    tied = summary[summary[metric] == best]
    return tied.iloc[0], list(tied["setting"].iloc[1:])


def describe_best(summary: pd.DataFrame, metric: str = "validation R@1 mean") -> str:
    """'<setting> (validation R@1 10.9)', naming any setting tied with it."""
    row, tied = best_setting(summary, metric)
    return f"{row['setting']} ({metric.removesuffix(' mean')} {row[metric]:.1f}" + (
        f"; tied with {', '.join(tied)})" if tied else ")"
    )
