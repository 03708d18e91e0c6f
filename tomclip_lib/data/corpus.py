"""The embedded distillation corpus: parallel (English, other language) captions from CLDR and Babel.

An *item* is one thing with a name in all 13 languages: an emoji (its CLDR short name and its
keywords) or a territory or language (Babel's display names). Every item yields one pair per
language, English itself included, so the student also learns to place English. Splits are made
per item, by a hash of its identity, so the test emoji never appear in training in any language,
and the split of an item does not move when others are added or removed.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pandas as pd

from .. import assets
from ..errors import TomclipError
from .images import load_emoji_test
from .languages import LANGUAGE_CODES, check_languages

SOURCES = ("emoji-name", "emoji-keywords", "territory", "language")
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class CorpusConfig:
    languages: tuple[str, ...] = LANGUAGE_CODES
    include_keywords: bool = True  # emoji keyword lists as a second caption per emoji
    include_babel: bool = True  # territory and language names
    validation_fraction: float = 0.1  # of items
    test_fraction: float = 0.1  # of items
    low_resource_fraction: float = 0.06  # of training pairs (the paper: 1% of 1.5M rows)
    max_items: int | None = None  # keep N items, the first by hash (smoke runs)

    def __post_init__(self):
        check_languages(self.languages)
        if "en" not in self.languages:
            raise TomclipError("The corpus needs English ('en') among its languages: it is the teacher's.")
        for name in ("validation_fraction", "test_fraction", "low_resource_fraction"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise TomclipError(f"CorpusConfig.{name} must lie strictly between 0 and 1, got {value}.")
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise TomclipError("validation_fraction + test_fraction must be below 1.")


def unit_hash(text: str) -> float:
    """A stable number in [0, 1) for a string: deterministic across machines and Python runs."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16) / 16**12


def load_cldr_annotations(lang: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """CLDR short names and keyword lists of one language, keyed by code points without FE0F."""
    path = assets.asset_file("cldr-annotations", f"{lang}.xml")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise TomclipError(f"{path} is not valid XML ({error}); reinstall unicode-cldr-core.") from None
    names, keywords = {}, {}
    for node in root.iter("annotation"):
        text = (node.text or "").strip()
        if not text:
            continue
        if node.get("type") == "tts":
            names[node.get("cp")] = text
        else:
            keywords[node.get("cp")] = [k.strip() for k in text.split("|") if k.strip()]
    return names, keywords


def _emoji_rows(languages: tuple[str, ...], include_keywords: bool) -> list[dict]:
    annotations = {lang: load_cldr_annotations(lang) for lang in languages}
    rows = []
    for info in load_emoji_test():
        if info.group == "Component":
            continue
        if not all(info.key in annotations[lang][0] for lang in languages):
            continue
        if include_keywords and not all(info.key in annotations[lang][1] for lang in languages):
            continue
        item = "emoji:" + "-".join(f"{ord(c):X}" for c in info.key)
        en_name = annotations["en"][0][info.key]
        en_keywords = ", ".join(annotations["en"][1].get(info.key, []))
        for lang in languages:
            names, keywords = annotations[lang]
            base = dict(item=item, emoji=info.emoji, group=info.group, subgroup=info.subgroup, lang=lang)
            rows.append(dict(base, source="emoji-name", en=en_name, text=names[info.key]))
            if include_keywords:
                rows.append(dict(base, source="emoji-keywords", en=en_keywords, text=", ".join(keywords[info.key])))
    return rows


def _babel_rows(languages: tuple[str, ...]) -> list[dict]:
    from babel import Locale

    locales = {lang: Locale.parse(lang) for lang in languages}
    rows = []
    for source, attribute in (("territory", "territories"), ("language", "languages")):
        tables = {lang: getattr(locale, attribute) for lang, locale in locales.items()}
        shared = sorted(set.intersection(*(set(t) for t in tables.values())))
        for code in shared:
            for lang in languages:
                rows.append(
                    dict(
                        item=f"{source}:{code}",
                        emoji="",
                        group=source,
                        subgroup=source,
                        lang=lang,
                        source=source,
                        en=tables["en"][code],
                        text=tables[lang][code],
                    )
                )
    return rows


def build_corpus(config: CorpusConfig = CorpusConfig()) -> pd.DataFrame:
    """All caption pairs with their split; one row per (item, source, language).

    Columns: item, source, lang, en (teacher caption), text (student caption), emoji, group,
    subgroup, split ('train'/'validation'/'test'), low_resource (bool: in the low-resource subset
    of the training split).
    """
    rows = _emoji_rows(config.languages, config.include_keywords)
    if config.include_babel:
        rows += _babel_rows(config.languages)
    corpus = pd.DataFrame(rows)
    if config.max_items is not None:
        # A hash salted differently from the split's, so the subset keeps the split proportions.
        keep = sorted(corpus["item"].unique(), key=lambda item: unit_hash("subset|" + item))[: config.max_items]
        corpus = corpus[corpus["item"].isin(keep)].reset_index(drop=True)
    position = corpus["item"].map(unit_hash)
    corpus["split"] = "train"
    corpus.loc[position < config.validation_fraction + config.test_fraction, "split"] = "validation"
    corpus.loc[position < config.test_fraction, "split"] = "test"
    pair_position = (corpus["item"] + "|" + corpus["source"] + "|" + corpus["lang"]).map(
        lambda key: unit_hash("low-resource|" + key)
    )
    corpus["low_resource"] = (corpus["split"] == "train") & (pair_position < config.low_resource_fraction)
    return corpus


def split_pairs(corpus: pd.DataFrame, split: str, setting: str = "full") -> pd.DataFrame:
    """The pairs of one split; setting 'low' keeps the low-resource subset of the training split."""
    if split not in SPLITS:
        raise TomclipError(f"Unknown split {split!r}; use one of {SPLITS}.")
    if setting not in ("full", "low"):
        raise TomclipError(f"Unknown setting {setting!r}; use 'full' or 'low' (low-resource).")
    pairs = corpus[corpus["split"] == split]
    if setting == "low" and split == "train":
        pairs = pairs[pairs["low_resource"]]
    return pairs.reset_index(drop=True)
