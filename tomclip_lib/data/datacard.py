"""The data card's tables: what a profile trains and tests on, how much of it, under which licence
(stages.data.write_data_card writes the card)."""

from __future__ import annotations

import pandas as pd

from .. import assets
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
