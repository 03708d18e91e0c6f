"""Notebook 04's stage: the per-item records of every run (the rank of each query's true partner),
and the paper's two tables (zero-shot, retrieval) per language and seed computed from them alone;
stages.verdicts pairs them with MCLIP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import evaluate, records, report
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
#: A continuous endpoint from the same records: 1 / (rank + 1) of the true image, so a true image that
#: moves from rank 5 to rank 2 counts, where R@1 among 373 near-synonymous emoji sees only rank 0 (issue 29).
RETRIEVAL_RR_TASK = "retrieval text->image reciprocal rank"
_RUN = ["model", "setting", "seed", "language"]


def _records(columns: dict[str, list[np.ndarray]], run_keys: list[tuple], lengths: list[int]) -> pd.DataFrame:
    """A tidy frame from per-(run, language) arrays: the run's keys repeated over its items, the
    text keys categorical and the numbers small integers (15 million zero-shot rows stay ~100 MB)."""
    keys = {name: np.repeat(np.array(values, dtype=object), lengths) for name, values in zip(_RUN, zip(*run_keys))}
    frame = pd.DataFrame(
        {
            **{
                name: pd.Categorical(keys[name], categories=list(dict.fromkeys(keys[name])))
                for name in _RUN
                if name != "seed"
            },
            "seed": pd.array(keys["seed"], dtype="Int16"),
            **{
                name: np.concatenate(arrays).astype(np.int32 if name in ("image", "item") else np.int16)
                for name, arrays in columns.items()
            },
        }
    )
    return frame[_RUN + list(columns)]


def zero_shot_records(
    profile: str, runs: pd.DataFrame, teacher: Teacher, images: ZeroShotSet, image_embeddings, languages: list[str]
) -> pd.DataFrame:
    """Per (run, language, test image): its class, the predicted class and the rank of the true
    class among the prompts (0: correct). Every zero-shot table and interval is a function of it."""
    columns: dict[str, list[np.ndarray]] = {"image": [], "label": [], "predicted": [], "rank": []}
    run_keys, lengths = [], []
    for model, setting, seed, encode in _encoders(profile, runs, teacher):
        for lang in languages:
            ranks, predicted = evaluate.zero_shot_ranks(
                image_embeddings, encode(prompts(images.dataset, lang)), images.labels
            )
            for name, values in zip(columns, (np.arange(len(ranks)), images.labels, predicted, ranks)):
                columns[name].append(np.asarray(values))
            run_keys.append((model, setting, seed, lang))
            lengths.append(len(ranks))
    return _records(columns, run_keys, lengths)


def retrieval_records(
    profile: str, runs: pd.DataFrame, teacher: Teacher, items: RetrievalSet, image_embeddings, languages: list[str]
) -> pd.DataFrame:
    """Per (run, language, test item, direction): the rank of the true partner (0: found first),
    text -> image among the test images and image -> text among that language's captions."""
    columns: dict[str, list[np.ndarray]] = {"item": [], "direction": [], "rank": []}
    run_keys, lengths = [], []
    for model, setting, seed, encode in _encoders(profile, runs, teacher):
        for lang in languages:
            for code, ranks in enumerate(
                evaluate.retrieval_ranks(encode(list(items.captions[lang])), image_embeddings).values()
            ):
                columns["item"].append(np.arange(len(ranks)))
                columns["direction"].append(np.full(len(ranks), code))
                columns["rank"].append(ranks)
                run_keys.append((model, setting, seed, lang))
                lengths.append(len(ranks))
    frame = _records(columns, run_keys, lengths)
    frame["direction"] = pd.Categorical.from_codes(frame["direction"], categories=list(evaluate.DIRECTIONS))
    return frame


def write_item_records(
    profile: str,
    runs: pd.DataFrame,
    teacher: Teacher,
    images: ZeroShotSet,
    items: RetrievalSet,
    languages: list[str],
    retrieval_languages: list[str],
) -> None:
    """Write results/<profile>/items_zero_shot.parquet and items_retrieval.parquet, each sorted by
    item (zero-shot images by class first) so that an item's rows of every run sit side by side
    (report.save_records: the order is what makes them small)."""
    zero_shot_images = teacher.cached_image_embeddings("zero-shot", images.images)
    retrieval_images = teacher.cached_image_embeddings("retrieval", items.images)
    report.save_records(
        zero_shot_records(profile, runs, teacher, images, zero_shot_images, languages),
        "items_zero_shot",
        profile,
        sort_by=["language", "label", "image"],
    )
    report.save_records(
        retrieval_records(profile, runs, teacher, items, retrieval_images, retrieval_languages),
        "items_retrieval",
        profile,
        sort_by=["language", "direction", "item"],
    )


def _grouped(item_ranks: pd.DataFrame, keys: list[str]):
    return item_ranks.groupby(keys, sort=False, observed=True, dropna=False)


def zero_shot_table(item_ranks: pd.DataFrame, n_boot: int = 10_000, topk=(1, 5)) -> pd.DataFrame:
    """Top-k accuracy per run and language with its 95% bootstrap interval over test images, plus
    the language average: a function of zero_shot_records alone."""
    rows = [
        dict(zip(_RUN, key), metric=f"top{k}", **_mean_and_interval(group["rank"].to_numpy() < k, n_boot))
        for key, group in _grouped(item_ranks, _RUN)
        for k in topk
    ]
    return evaluate.language_average(pd.DataFrame(rows)[evaluate.TABLE_COLUMNS])


def _mean_and_interval(values: np.ndarray, n_boot: int) -> dict:
    low, high = evaluate.bootstrap_interval(values, n_boot)
    return {"value": float(values.mean()), "ci_low": low, "ci_high": high}


def retrieval_table(item_ranks: pd.DataFrame, n_boot: int = 10_000, ks=(1, 5, 10)) -> pd.DataFrame:
    """Recall@k both ways per run and language (95% bootstrap over items), the macro average (mean
    of languages) and the micro one (all queries pooled) whose interval resamples test items with
    all their translations (evaluate.clustered_interval): an item's languages are not independent."""
    rows = [
        dict(zip(_RUN, key), metric=f"{direction} R@{k}", **_mean_and_interval(group["rank"].to_numpy() < k, n_boot))
        for key, by_direction in _grouped(item_ranks, _RUN)
        for direction, group in by_direction.groupby("direction", sort=False, observed=True)
        for k in ks
    ]
    per_language = pd.DataFrame(rows)[evaluate.TABLE_COLUMNS]
    micro = []
    for (model, setting, seed, direction), group in _grouped(item_ranks, ["model", "setting", "seed", "direction"]):
        by_item = group.pivot(index="language", columns="item", values="rank").to_numpy()
        for k in ks:
            low, high = evaluate.clustered_interval(by_item < k, n_boot)
            micro.append(
                dict(
                    model=model,
                    setting=setting,
                    language="micro",
                    metric=f"{direction} R@{k}",
                    value=float((by_item < k).mean()),
                    ci_low=low,
                    ci_high=high,
                    seed=seed,
                )
            )
    return pd.concat(
        [evaluate.language_average(per_language, "macro"), pd.DataFrame(micro)[evaluate.TABLE_COLUMNS]],
        ignore_index=True,
    )


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


def seed_spread(table: pd.DataFrame, average: str, metric: str, setting: str = "low") -> pd.DataFrame:
    """Per model: mean and sd over seeds of a language-averaged score (percent): the stability of
    each objective."""
    chosen = table[(table["language"] == average) & (table["metric"] == metric) & (table["setting"] == setting)]
    grouped = chosen.groupby("model", sort=False)["value"]
    stats = grouped.agg(["mean", "std", "min", "max"]) * 100
    stats["seeds"] = grouped.count()
    return stats.rename(columns={"std": "sd"}).reset_index()


def zero_shot_top1(student: Student, teacher: Teacher, images: ZeroShotSet, languages: list[str]) -> float:
    """Zero-shot top-1 of a student's class prompts against the teacher's images, averaged over languages."""
    embedded = teacher.cached_image_embeddings("zero-shot", images.images)
    hits = [evaluate.zero_shot_hits(embedded, student.encode(prompts(images.dataset, lang)), images.labels, (1,))[1]
            for lang in languages]  # fmt: skip
    return float(np.mean([language_hits.mean() for language_hits in hits]))


def summary_scores(
    student: Student,
    teacher: Teacher,
    images: ZeroShotSet,
    test: RetrievalQueries,
    validation: RetrievalQueries,
    languages: list[str],
) -> dict[str, float]:
    """One run's validation and test retrieval R@1 and zero-shot top-1, averaged over languages."""
    return {
        "validation R@1": validation.recall_at_1(student.encode),
        "retrieval R@1": test.recall_at_1(student.encode),
        "zero-shot top-1": zero_shot_top1(student, teacher, images, languages),
    }
