"""Notebook 04's stage: the paper's two tables (zero-shot, retrieval) per language and seed, and the
paired verdict of every model against its MCLIP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import evaluate, records
from ..data.classnames import prompts
from ..data.embedded import RetrievalSet, ZeroShotSet
from ..evaluate import RetrievalQueries
from ..models.student import Student
from ..models.teacher import Teacher
from .teacher import TEACHER_BASELINE


def _encoders(profile: str, runs: pd.DataFrame, teacher: Teacher):
    """(model, setting, seed, text encoder) for the teacher baseline and every student run."""
    yield TEACHER_BASELINE, "-", None, teacher.encode_texts
    for run in runs.itertuples():
        yield run.variant, run.setting, run.seed, records.load_student(profile, run).encode


ZERO_SHOT_TASK, RETRIEVAL_TASK = "zero-shot top-1", "retrieval text->image R@1"


def zero_shot_table(
    profile: str,
    runs: pd.DataFrame,
    teacher: Teacher,
    images: ZeroShotSet,
    image_embeddings: np.ndarray,
    languages: list[str],
    n_boot: int = 10_000,
    hits: dict | None = None,
) -> pd.DataFrame:
    """Zero-shot top-1/top-5 per language for the teacher baseline and every student run, plus the
    average. `hits`, when given, receives each run's top-1 hits, (languages, images), for the
    paired comparisons (paired_comparisons)."""
    rows = []
    for model, setting, seed, encode in _encoders(profile, runs, teacher):
        per_language = []
        for lang in languages:
            classes = encode(prompts(images.dataset, lang))
            rows += evaluate.zero_shot_rows(
                image_embeddings,
                classes,
                images.labels,
                model=model,
                setting=setting,
                language=lang,
                seed=seed,
                n_boot=n_boot,
            )
            per_language.append(evaluate.zero_shot_hits(image_embeddings, classes, images.labels, topk=(1,))[1])
        if hits is not None and seed is not None:
            hits[ZERO_SHOT_TASK, model, setting, seed] = np.stack(per_language)
    return evaluate.language_average(pd.DataFrame(rows, columns=evaluate.TABLE_COLUMNS))


def retrieval_table(
    profile: str,
    runs: pd.DataFrame,
    teacher: Teacher,
    items: RetrievalSet,
    image_embeddings: np.ndarray,
    languages: list[str],
    n_boot: int = 10_000,
    hits: dict | None = None,
) -> pd.DataFrame:
    """Recall@1/5/10 both ways per language, plus macro (mean of languages) and micro (pooled)
    averages. `hits`, when given, receives each run's text -> image R@1 hits, (languages, items)."""
    rows = []
    for model, setting, seed, encode in _encoders(profile, runs, teacher):
        pooled: dict[tuple[str, int], list[np.ndarray]] = {}
        for lang in languages:
            captions = encode(list(items.captions[lang]))
            rows += evaluate.retrieval_rows(
                captions, image_embeddings, model=model, setting=setting, language=lang, seed=seed, n_boot=n_boot
            )
            for key, query_hits in evaluate.retrieval_hits(captions, image_embeddings).items():
                pooled.setdefault(key, []).append(query_hits)
        if hits is not None and seed is not None:
            hits[RETRIEVAL_TASK, model, setting, seed] = np.stack(pooled["text_to_image", 1])
        for (direction, k), query_hits in pooled.items():
            query_hits = np.concatenate(query_hits)
            low, high = evaluate.bootstrap_interval(query_hits, n_boot)
            rows.append(
                dict(
                    model=model,
                    setting=setting,
                    language="micro",
                    metric=f"{direction} R@{k}",
                    value=float(query_hits.mean()),
                    ci_low=low,
                    ci_high=high,
                    seed=seed,
                )
            )
    table = pd.DataFrame(rows, columns=evaluate.TABLE_COLUMNS)
    per_language = table[table["language"] != "micro"]
    macro = evaluate.language_average(per_language, "macro")
    return pd.concat([macro, table[table["language"] == "micro"]], ignore_index=True)


def wide_table(table: pd.DataFrame, metric: str, setting: str, languages: list[str], digits: int = 1) -> pd.DataFrame:
    """Models x languages for one metric and setting, in percent; mean +- sd where there are seeds."""
    chosen = table[(table["metric"] == metric) & (table["setting"].isin([setting, "-"]))]
    summary = evaluate.summarize_seeds(chosen)
    cells = summary.assign(
        cell=[
            f"{100 * m:.{digits}f}" if not (s == s) or n < 2 else f"{100 * m:.{digits}f} ± {100 * s:.{digits}f}"
            for m, s, n in zip(summary["mean"], summary["sd"], summary["seeds"])
        ]
    )
    wide = cells.pivot(index="model", columns="language", values="cell")
    order = [m for m in dict.fromkeys(chosen["model"])]
    columns = [c for c in languages + ["avg", "macro", "micro"] if c in wide.columns]
    return wide.loc[order, columns].reset_index()


def baseline_of(runs: pd.DataFrame) -> dict[str, str]:
    """Each model's MCLIP: the MCLIP run set whose student trains the same backbone layers."""
    mclip = (
        runs[runs["objective"] == "MCLIP"].drop_duplicates("trainable_layers").set_index("trainable_layers")["variant"]
    )
    return {
        row.variant: mclip[row.trainable_layers]
        for row in runs.drop_duplicates("variant").itertuples()
        if row.objective != "MCLIP" and row.trainable_layers in mclip.index
    }


def verdict(low: float, high: float) -> str:
    """What a 95% interval of a difference to MCLIP says, in words."""
    return "better than MCLIP" if low > 0 else "worse than MCLIP" if high < 0 else "no difference resolved"


def paired_comparisons(hits: dict, baselines: dict[str, str], n_boot: int = 10_000) -> pd.DataFrame:
    """Every model against its MCLIP, per setting and task: the mean difference of the
    language-averaged score in points, paired (the same test items and seeds), with a 95% paired
    bootstrap interval over items and seeds (evaluate.paired_difference), and the verdict it gives."""
    rows = []
    for task in (ZERO_SHOT_TASK, RETRIEVAL_TASK):
        for setting in ("full", "low"):
            for model, baseline in baselines.items():
                seeds = sorted(seed for (t, m, s, seed) in hits if (t, m, s) == (task, model, setting))
                paired = [seed for seed in seeds if (task, baseline, setting, seed) in hits]
                if not paired:
                    continue
                ours = np.stack([hits[task, model, setting, seed] for seed in paired]).astype(np.float64)
                theirs = np.stack([hits[task, baseline, setting, seed] for seed in paired]).astype(np.float64)
                result = evaluate.paired_difference(ours, theirs, n_boot=n_boot)
                rows.append(
                    {
                        "setting": setting,
                        "task": task,
                        "model": model,
                        "baseline": baseline,
                        "score": 100 * ours.mean(),
                        "baseline score": 100 * theirs.mean(),
                        "difference": 100 * result["difference"],
                        "ci_low": 100 * result["ci_low"],
                        "ci_high": 100 * result["ci_high"],
                        "half_width": 100 * result["half_width"],
                        "seeds": result["seeds"],
                        "items": result["items"],
                        "wins": result["wins"],
                        "verdict": verdict(result["ci_low"], result["ci_high"]),
                    }
                )
    return pd.DataFrame(rows)


def seed_spread(table: pd.DataFrame, average: str, metric: str, setting: str = "low") -> pd.DataFrame:
    """Per model: mean and sd over seeds of a language-averaged score (percent): the stability of
    each objective."""
    chosen = table[(table["language"] == average) & (table["metric"] == metric) & (table["setting"] == setting)]
    grouped = chosen.groupby("model", sort=False)["value"]
    stats = grouped.agg(["mean", "std", "min", "max"]) * 100
    stats["seeds"] = grouped.count()
    return stats.rename(columns={"std": "sd"}).reset_index()


def summary_scores(
    student: Student,
    teacher: Teacher,
    images: ZeroShotSet,
    test: RetrievalQueries,
    validation: RetrievalQueries,
    languages: list[str],
) -> dict[str, float]:
    """One run's headline numbers, averaged over languages: validation and test retrieval R@1
    (text -> gallery) and zero-shot top-1. Validation numbers are the only ones to choose settings by."""
    zero_shot_images = teacher.cached_image_embeddings("zero-shot", images.images)
    return {
        "validation R@1": validation.recall_at_1(student.encode),
        "retrieval R@1": test.recall_at_1(student.encode),
        "zero-shot top-1": float(
            np.mean(
                [
                    evaluate.zero_shot_accuracy(
                        zero_shot_images, student.encode(prompts(images.dataset, lang)), images.labels, topk=(1,)
                    )["top1"]
                    for lang in languages
                ]
            )
        ),
    }
