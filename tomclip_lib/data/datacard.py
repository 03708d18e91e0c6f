"""The data card's tables: what a profile trains and tests on, how much of it, under which licence,
and how long its training captions are in the student's tokens (stages.data.write_data_card writes the card)."""

from __future__ import annotations

import bisect
import itertools

import pandas as pd

from .. import assets
from ..errors import TomclipError
from .corpus import SPLITS
from .languages import LANGUAGE_CODES


def pair_counts(corpus: pd.DataFrame) -> pd.DataFrame:
    """Caption pairs per language and split, plus the low-resource subset.

    Rows: the paper's 13 languages in its order, then any others (M-CLIP has 48).
    """
    table = corpus.pivot_table(index="lang", columns="split", values="text", aggfunc="size", fill_value=0)
    others = sorted(set(table.index) - set(LANGUAGE_CODES))  # M-CLIP's languages beyond the 13
    table = table.reindex(
        index=[c for c in LANGUAGE_CODES if c in table.index] + others,
        columns=[s for s in SPLITS if s in table.columns],
        fill_value=0,
    )
    table["low-resource train"] = corpus[corpus["low_resource"]].groupby("lang").size()
    table = table.fillna(0).astype(int)
    table.loc["all"] = table.sum()
    return table.reset_index().rename(columns={"lang": "language"})


def source_counts(corpus: pd.DataFrame) -> pd.DataFrame:
    """Items (distinct emoji, territories, languages) and pairs per source and split."""
    grouped = corpus.groupby(["source", "split"])
    table = pd.DataFrame({"items": grouped["item"].nunique(), "pairs": grouped.size()}).reset_index()
    return table.sort_values(["source", "split"]).reset_index(drop=True)


def licence_table(identities) -> pd.DataFrame:
    """The embedded assets of `identities`: what each is, where it was read from, its licence."""
    rows = []
    for identity in identities:
        asset = assets.ASSETS[identity]
        rows.append(
            dict(
                asset=identity,
                what=asset.description,
                source=assets.cache_source(identity) or asset.source,
                license=asset.license,
            )
        )
    return pd.DataFrame(rows)


def mclip_row_tables(rows: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The paper profile's M-CLIP rows (records.mclip_rows) as two tables: rows asked, read, dropped
    (by reason) and kept; and per split, the embedding rows its boundaries cover against the pairs kept."""
    counts = [("asked (paper_data.rows)", "all" if rows["asked"] is None else rows["asked"]), ("read", rows["read"])]
    counts += [(f"dropped: {reason}", n) for reason, n in rows["dropped"].items()]
    counts.append(("kept as caption pairs", rows["kept"]))
    splits = pd.DataFrame(rows["splits"], columns=["split", "embedding rows", "pairs kept"])
    return pd.DataFrame(counts, columns=["embedding rows", "count"]), splits


#: Captions tokenized per call: the paper's 2 M training captions at once would hold every id list in memory.
TOKENIZE_CHUNK = 8192


def caption_token_histogram(texts, tokenizer, max_length: int = 77, chunk: int = TOKENIZE_CHUNK) -> dict[str, int]:
    """Captions per token count (special tokens included, cut at max_length, as the student cuts them):
    the histogram the data card records and the cost estimate (tomclip_lib.cost) pads batches with.
    Keys are strings, as JSON keeps them."""
    texts = list(texts)
    if chunk < 1 or max_length < 1:
        raise TomclipError(f"chunk and max_length must be at least 1, got {chunk} and {max_length}.")
    counts: dict[int, int] = {}
    for start in range(0, len(texts), chunk):
        for ids in tokenizer(texts[start : start + chunk], truncation=True, max_length=max_length)["input_ids"]:
            counts[len(ids)] = counts.get(len(ids), 0) + 1
    return {str(k): v for k, v in sorted(counts.items())}


def histogram_median(histogram: dict) -> float:
    """The median of the values a {value: count} histogram counts (the mean of the middle two for an even count)."""
    counts = sorted((int(k), int(n)) for k, n in histogram.items() if int(n))
    if not counts:
        raise TomclipError("The median of an empty histogram is undefined: no caption was counted.")
    values, below = [value for value, _ in counts], list(itertools.accumulate(n for _, n in counts))
    middle = ((below[-1] - 1) // 2, below[-1] // 2)  # 0-based positions of the middle one or two
    return sum(values[bisect.bisect_right(below, position)] for position in middle) / 2


def caption_tokens(texts, tokenizer_name: str, tokenizer, max_length: int, prefix: str = "") -> dict:
    """The data card's "caption_tokens": the token lengths of `texts` as a student reads them (its
    prefix first), with what measured them."""
    histogram = caption_token_histogram([prefix + text for text in texts], tokenizer, max_length)
    return {
        "tokenizer": tokenizer_name,
        "prefix": prefix,
        "max_length": max_length,
        "captions": sum(histogram.values()),
        "median": histogram_median(histogram) if histogram else None,
        "histogram": histogram,
    }


def caption_tokens_sentence(record: dict) -> str:
    """The data card's words for its "caption_tokens" record."""
    counts = {int(k): n for k, n in record["histogram"].items()}
    prefix = f', each after the prefix "{record["prefix"]}"' if record["prefix"] else ""
    if not counts:
        return f"No training caption to measure (tokenizer of `{record['tokenizer']}`)."
    cut = counts.get(record["max_length"], 0)
    reach = f"{cut:,} reach the cut" if cut else "none reaches the cut"
    return (
        f"The {record['captions']:,} training captions through the tokenizer of `{record['tokenizer']}`{prefix}, "
        f"special tokens included and cut at {record['max_length']} tokens as the student cuts them: median "
        f"{record['median']:g} tokens (from {min(counts)} to {max(counts)}); "
        f"{reach}. The histogram is in data_card.json "
        '("caption_tokens"; tomclip_lib/cost.py estimates the GPU cost of a paper-profile run from it).'
    )
