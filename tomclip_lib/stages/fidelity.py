"""Notebook 04's fidelity section: how well each student learnt its teacher, from the per-item records
alone. In English student and teacher read the same text, so a student's English score over the
teacher's is its fit; the score per zero-shot class shows which of the few class prompts decide it
(docs/fidelity.md).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..data.classnames import class_names
from ..data.corpus import split_pairs
from ..data.vocabulary import vocabulary_pairs
from ..statistics import exact_mean, paired_difference
from .teacher import TEACHER_BASELINE
from .verdicts import TASKS


def teacher_fraction(
    zero_shot: pd.DataFrame, retrieval: pd.DataFrame, language: str = "en", level: float = 0.95
) -> pd.DataFrame:
    """Each student's score in `language` as a fraction of the teacher's own English score, per model,
    setting and task (zero-shot top-1, text -> image R@1 and reciprocal rank, the last a continuous
    score that resolves what R@1 on a few hundred items cannot): in English student and teacher read the
    same caption, so the fraction is how well the student learnt its teacher (issue 29 asks 0.75 of
    MCLIP in the full setting). Student scores are means over seeds; a function of the records alone.

    The interval (fraction_low, fraction_high) is the delta method's for a ratio of means: each
    (seed, item)'s (student score - fraction x teacher score) / teacher score, whose mean is zero, given to
    statistics.paired_difference, so seeds and items (the same items for both) both count: it is
    about the training procedure. (fraction_low_items, fraction_high_items) counts the items alone,
    on the seed-averaged scores: about these trained students (two seeds say little of the procedure)."""
    rows = []
    item_ranks = {"zero-shot": zero_shot, "retrieval": retrieval[retrieval["direction"] == "text_to_image"]}
    for task, (kind, key, score) in TASKS.items():
        chosen = item_ranks[kind][item_ranks[kind]["language"] == language]
        chosen = chosen.assign(score=score(chosen["rank"].to_numpy()))
        is_teacher = (chosen["model"] == TEACHER_BASELINE).to_numpy()
        teacher_scores = chosen[is_teacher].set_index(key)["score"].sort_index()
        teacher = teacher_scores.to_numpy()
        students = chosen[~is_teacher]
        for (model, setting), part in students.groupby(["model", "setting"], observed=True, sort=False):
            scores = (
                part.pivot(index="seed", columns=key, values="score").reindex(columns=teacher_scores.index).to_numpy()
            )
            fraction, low, high = _ratio_interval(scores, teacher, level)
            _, items_low, items_high = _ratio_interval(exact_mean(scores, 0)[None, :], teacher, level)
            rows.append(
                {
                    "model": model,
                    "setting": setting,
                    "task": task,
                    "language": language,
                    "seeds": len(scores),
                    "student": 100 * exact_mean(scores),
                    "teacher": 100 * exact_mean(teacher),
                    "fraction": fraction,
                    "fraction_low": low,
                    "fraction_high": high,
                    "fraction_low_items": items_low,
                    "fraction_high_items": items_high,
                }
            )
    return pd.DataFrame(rows)


def _ratio_interval(student: np.ndarray, teacher: np.ndarray, level: float) -> tuple[float, float, float]:
    """(ratio, low, high) of a (seeds, items) matrix's mean over a vector's mean on the same items."""
    mean = exact_mean(teacher)
    if not mean > 0:
        return (float("nan"),) * 3
    ratio = exact_mean(student) / mean
    interval = paired_difference((student - ratio * teacher[None, :]) / mean, level)
    return ratio, ratio + interval.ci_low, ratio + interval.ci_high


def names_in_training(dataset: str, corpus: pd.DataFrame, extra: list[str] | tuple[str, ...] = ()) -> dict[int, bool]:
    """Per class: whether its English name, as the zero-shot prompt writes it ("ankle boot"), occurs as
    whole words in an English caption of the training split (or in `extra`, more English training
    text). A student meets a class name it never read only through its backbone; its teacher read
    the class names while it trained."""
    captions = "\n".join([*split_pairs(corpus, "train")["en"], *extra]).lower()
    return {
        entry.index: re.search(rf"\b{re.escape(entry.form.lower())}\b", captions) is not None
        for entry in class_names(dataset, "en")
    }


def names_in_vocabulary(dataset: str, corpus: pd.DataFrame, runs: pd.DataFrame) -> dict[str, dict[int, bool]]:
    """names_in_training of each model whose runs also read WordNet's nouns (the `vocabulary` and
    `vocabulary_form` columns of notebook 03's runs: how many, in which form), with their texts counted
    as training text; models without: absent."""
    if "vocabulary" not in runs:
        return {}
    runs = runs.assign(vocabulary_form=runs["vocabulary_form"] if "vocabulary_form" in runs else "noun")
    read = runs[runs["vocabulary"] > 0].drop_duplicates("variant")
    specs = {
        model: (int(count), form) for model, count, form in read[["variant", "vocabulary", "vocabulary_form"]].values
    }
    texts = {spec: list(vocabulary_pairs(corpus, *spec)["en"]) for spec in set(specs.values())}  # each read once
    return {model: names_in_training(dataset, corpus, texts[spec]) for model, spec in specs.items()}


def class_accuracy(
    zero_shot: pd.DataFrame,
    dataset: str,
    seen: dict[int, bool] | None = None,
    seen_by_model: dict[str, dict[int, bool]] | None = None,
    language: str = "en",
) -> pd.DataFrame:
    """Top-1 accuracy (%) per model, setting and zero-shot class in `language`, mean and sd over seeds,
    and whether the class name is in the training captions (`seen`, names_in_training; a model in
    `seen_by_model` read more, names_in_vocabulary): the class prompts are few (10 in Fashion-MNIST),
    so which of them a student places well decides its score."""
    chosen = zero_shot[zero_shot["language"] == language]
    chosen = chosen.assign(hit=100.0 * (chosen["rank"].to_numpy() < 1))
    per_seed = chosen.groupby(["model", "setting", "seed", "label"], observed=True, sort=False, dropna=False)["hit"]
    per_seed = per_seed.mean().reset_index()
    table = (
        per_seed.groupby(["model", "setting", "label"], observed=True, sort=False)["hit"]
        .agg(accuracy="mean", sd="std", seeds="count")
        .reset_index()
    )
    names = {entry.index: entry.label for entry in class_names(dataset, "en")}
    table.insert(2, "language", language)
    table.insert(4, "class", table["label"].map(names))
    read = [
        (seen_by_model or {}).get(model, seen or {}).get(label) for model, label in zip(table["model"], table["label"])
    ]
    table.insert(5, "name in training", pd.array(read, dtype="boolean"))
    return table


def fraction_by_vocabulary(by_class: pd.DataFrame) -> pd.DataFrame:
    """Each student's zero-shot accuracy over the classes whose names it read in training and over the
    rest, against the teacher's on the same classes (the classes have equal numbers of images)."""
    teacher = by_class[by_class["model"] == TEACHER_BASELINE].set_index("label")["accuracy"]
    students = by_class[by_class["model"] != TEACHER_BASELINE].assign(teacher=lambda t: t["label"].map(teacher))
    table = (
        students.groupby(["model", "setting", "name in training"], observed=True, sort=False)
        .agg(classes=("label", "count"), student=("accuracy", "mean"), teacher=("teacher", "mean"))
        .reset_index()
    )
    return table.assign(fraction=table["student"] / table["teacher"])


def wide_by_class(table: pd.DataFrame) -> pd.DataFrame:
    """class_accuracy as one row per model and setting, one column per class (the mean over seeds)."""
    wide = table.pivot_table(index=["model", "setting"], columns="class", values="accuracy", observed=True, sort=False)
    return wide[list(dict.fromkeys(table["class"]))].reset_index().rename_axis(columns=None)
