"""The embedded profile's experiment data: the teacher's images, the zero-shot and retrieval sets.

Fashion-MNIST plays CIFAR-100 (zero-shot classification), the held-out test emoji play
xFlickr&CO (retrieval: each emoji against its name in every language, "xEmoji").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .classnames import class_names
from .corpus import load_cldr_annotations
from .images import grey_to_rgb, load_emoji_test, load_fashion_mnist, render_emoji
from .languages import ENGLISH_ARTICLES, TEACHER_TEMPLATES


@dataclass
class TeacherTrainingSet:
    images: np.ndarray  # (N, S, S, 3) uint8
    captions: list[list[str]]  # the English captions each image may be paired with
    weights: np.ndarray  # expected draws per epoch
    source: np.ndarray  # "fashion-mnist" or "emoji", per image


def fashion_captions() -> list[list[str]]:
    """English captions of each Fashion-MNIST class: every teacher template, with the right article."""
    return [
        [template.format(ENGLISH_ARTICLES[row.variant] + row.form) for template in TEACHER_TEMPLATES]
        for row in class_names("fashion-mnist", "en")
    ]


def teacher_training_set(
    corpus: pd.DataFrame, image_size: int, fashion_per_epoch: int, emoji_repeats: float
) -> TeacherTrainingSet:
    """Fashion-MNIST training images and every emoji *not* held out by the corpus, with captions.

    Emoji outside the 13-language corpus are used too (English names suffice for the teacher);
    validation and test emoji of the corpus are excluded, so the teacher never sees them.
    """
    images, labels = load_fashion_mnist("train")
    per_class = fashion_captions()
    held_out = set(corpus.loc[corpus["split"] != "train", "emoji"])
    names, keywords = load_cldr_annotations("en")
    emoji = [e for e in load_emoji_test() if e.group != "Component" and e.emoji not in held_out and e.key in names]
    emoji_captions = [[names[e.key]] + ([", ".join(keywords[e.key])] if e.key in keywords else []) for e in emoji]
    emoji_images = render_emoji([e.emoji for e in emoji], image_size)
    return TeacherTrainingSet(
        images=np.concatenate([grey_to_rgb(images, image_size), emoji_images]),
        captions=[per_class[label] for label in labels] + emoji_captions,
        weights=np.concatenate(
            [np.full(len(images), fashion_per_epoch / len(images)), np.full(len(emoji), float(emoji_repeats))]
        ),
        source=np.array(["fashion-mnist"] * len(images) + ["emoji"] * len(emoji)),
    )


@dataclass
class ZeroShotSet:
    dataset: str  # which classnames table names its classes
    images: np.ndarray  # (N, S, S, 3) uint8
    labels: np.ndarray  # (N,) int64


def fashion_mnist_test(image_size: int, limit: int | None = None) -> ZeroShotSet:
    """Fashion-MNIST test (10,000 images, 10 classes); `limit` keeps a class-balanced prefix."""
    images, labels = load_fashion_mnist("test")
    if limit is not None:
        keep = np.sort(np.concatenate([np.flatnonzero(labels == k)[: limit // 10] for k in range(10)]))
        images, labels = images[keep], labels[keep]
    return ZeroShotSet("fashion-mnist", grey_to_rgb(images, image_size), labels)


@dataclass
class RetrievalSet:
    images: np.ndarray  # (N, S, S, 3) uint8, one per item
    captions: pd.DataFrame  # index: item; one column per language, the caption of that item
    groups: pd.Series  # index: item; the emoji group, for colouring


def emoji_retrieval_set(corpus: pd.DataFrame, image_size: int, split: str | None = "test") -> RetrievalSet:
    """The corpus's test (or validation) emoji, rendered, with their CLDR names in every language
    ("xEmoji"). The validation emoji are for choosing settings; the test emoji for reporting;
    split=None takes every emoji of the corpus (the geometry study)."""
    names = corpus[(corpus["source"] == "emoji-name") & ((corpus["split"] == split) if split else True)]
    captions = names.pivot(index="item", columns="lang", values="text")
    captions = captions[[lang for lang in dict.fromkeys(names["lang"])]]
    first = names.drop_duplicates("item").set_index("item").loc[captions.index]
    return RetrievalSet(render_emoji(list(first["emoji"]), image_size), captions, first["group"])
