"""The data card: what each profile trains and tests on, how much of it, and under which licence."""
from __future__ import annotations

import pandas as pd

from .. import assets, paths, report
from ..io import write_json, write_text
from .corpus import SPLITS
from .languages import LANGUAGE_CODES


def pair_counts(corpus: pd.DataFrame) -> pd.DataFrame:
    """Caption pairs per language and split, plus the low-resource subset.

    Rows: the paper's 13 languages in its order, then any others (M-CLIP has 48).
    """
    table = corpus.pivot_table(index="lang", columns="split", values="text", aggfunc="size", fill_value=0)
    others = sorted(set(table.index) - set(LANGUAGE_CODES))  # M-CLIP's languages beyond the 13
    table = table.reindex(index=[c for c in LANGUAGE_CODES if c in table.index] + others,
                          columns=[s for s in SPLITS if s in table.columns], fill_value=0)
    table["low-resource train"] = corpus[corpus["low_resource"]].groupby("lang").size()
    table = table.fillna(0).astype(int)
    table.loc["all"] = table.sum()
    return table.reset_index().rename(columns={"lang": "language"})


def source_counts(corpus: pd.DataFrame) -> pd.DataFrame:
    """Items (distinct emoji, territories, languages) and pairs per source and split."""
    grouped = corpus.groupby(["source", "split"])
    table = pd.DataFrame({"items": grouped["item"].nunique(), "pairs": grouped.size()}).reset_index()
    return table.sort_values(["source", "split"]).reset_index(drop=True)


def asset_table(identities) -> pd.DataFrame:
    rows = []
    for identity in identities:
        asset = assets.ASSETS[identity]
        rows.append(dict(asset=identity, what=asset.description,
                         source=assets.cache_source(identity) or asset.source, license=asset.license))
    return pd.DataFrame(rows)


def mclip_row_tables(rows: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The paper profile's M-CLIP rows (sources.mclip_rows) as two tables: rows asked, read, dropped
    (by reason) and kept; and per split, the embedding rows its boundaries cover against the pairs kept."""
    counts = [("asked (paper_data.rows)", "all" if rows["asked"] is None else rows["asked"]), ("read", rows["read"])]
    counts += [(f"dropped: {reason}", n) for reason, n in rows["dropped"].items()]
    counts.append(("kept as caption pairs", rows["kept"]))
    splits = pd.DataFrame(rows["splits"], columns=["split", "embedding rows", "pairs kept"])
    return pd.DataFrame(counts, columns=["embedding rows", "count"]), splits


def write_data_card(profile: str, corpus: pd.DataFrame, images: dict[str, int], licences: pd.DataFrame) -> dict:
    """Write results/<profile>/data_card.{md,json} and the count tables; return the card as a dict.

    `licences` has the columns asset, what, source and license (asset_table, or sources.asset_table).
    A paper profile's card also says how many M-CLIP rows were asked for, read and dropped (and why),
    since a partial download or empty translations would otherwise change its counts unseen.
    """
    from ..sources import mclip_rows  # the sources module imports torch: only when a card is written

    rows = mclip_rows(profile)
    pairs, sources = pair_counts(corpus), source_counts(corpus)
    report.save_table(pairs, "data_pairs_per_language", profile)
    report.save_table(sources, "data_sources", profile)
    image_table = pd.DataFrame({"images": list(images), "count": list(images.values())})
    card = {
        "profile": profile,
        "pairs_per_language": pairs.to_dict(orient="records"),
        "sources": sources.to_dict(orient="records"),
        "images": images,
        "assets": licences.to_dict(orient="records"),
    }
    mclip_section = []
    if rows is not None:
        card["mclip_rows"] = rows
        counts, splits = mclip_row_tables(rows)
        mclip_section = [
            "## M-CLIP embedding rows read",
            "",
            f"Read from {rows['source']}. The splits cut at raw embedding rows, as the reference's do "
            "(validation: the first rows), so a dropped row leaves its split one pair smaller.",
            "",
            report.markdown_table(counts),
            report.markdown_table(splits),
        ]
    folder = paths.results_dir(profile)
    write_json(folder / "data_card.json", card)
    markdown = "\n".join([
        f"# Data card: profile `{profile}`",
        "",
        "Written by `tomclip_lib.data.datacard.write_data_card` (notebook 01_data); do not edit.",
        "",
        *mclip_section,
        "## Caption pairs per language and split",
        "",
        report.markdown_table(pairs),
        "## Items and pairs per source",
        "",
        report.markdown_table(sources),
        "## Images",
        "",
        report.markdown_table(image_table),
        "## Assets, sources and licences",
        "",
        report.markdown_table(licences),
    ])
    write_text(folder / "data_card.md", markdown)
    return card
