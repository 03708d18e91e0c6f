"""Notebook 04's fidelity section: how well each student learnt its teacher, from the per-item records
alone. In English student and teacher read the same text, so a student's English score over the
teacher's is its fit; the score per zero-shot class shows which of the few class prompts decide it
(docs/fidelity.md).
"""

from __future__ import annotations

import re

import pandas as pd

from ..data.classnames import class_names
from ..data.corpus import split_pairs
from ..data.vocabulary import vocabulary_pairs
from .tables import RETRIEVAL_TASK, ZERO_SHOT_TASK
from .teacher import TEACHER_BASELINE


def teacher_fraction(zero_shot: pd.DataFrame, retrieval: pd.DataFrame, language: str = "en") -> pd.DataFrame:
    """Each student's score in `language` as a fraction of the teacher's own English score, per model,
    setting and task (zero-shot top-1, text -> image R@1): in English student and teacher read the
    same caption, so the fraction is how well the student learnt its teacher (issue 29 asks 0.75 of
    MCLIP in the full setting). Student scores are means over seeds; a function of the records alone."""
    rows = []
    for task, item_ranks in (
        (ZERO_SHOT_TASK, zero_shot),
        (RETRIEVAL_TASK, retrieval[retrieval["direction"] == "text_to_image"]),
    ):
        chosen = item_ranks[item_ranks["language"] == language]
        chosen = chosen.assign(hit=(chosen["rank"].to_numpy() < 1).astype(float))
        is_teacher = (chosen["model"] == TEACHER_BASELINE).to_numpy()
        teacher = float(chosen["hit"].to_numpy()[is_teacher].mean())
        students = chosen[~is_teacher]
        per_seed = students.groupby(["model", "setting", "seed"], observed=True, sort=False)["hit"].mean()
        for (model, setting), scores in per_seed.groupby(level=["model", "setting"], sort=False):
            rows.append(
                {
                    "model": model,
                    "setting": setting,
                    "task": task,
                    "language": language,
                    "seeds": len(scores),
                    "student": 100 * float(scores.mean()),
                    "teacher": 100 * teacher,
                    "fraction": float(scores.mean()) / teacher if teacher > 0 else float("nan"),
                }
            )
    return pd.DataFrame(rows)


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
    """names_in_training of each model whose runs also read WordNet's nouns (the `vocabulary` column of
    notebook 03's runs: how many), with those nouns counted as training text; models without: absent."""
    if "vocabulary" not in runs:
        return {}
    counts = {model: int(count) for model, count in runs.groupby("variant", sort=False)["vocabulary"].max().items()}
    nouns = {n: list(vocabulary_pairs(corpus, n)["en"]) for n in set(counts.values()) if n > 0}  # each read once
    return {model: names_in_training(dataset, corpus, nouns[count]) for model, count in counts.items() if count > 0}


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
