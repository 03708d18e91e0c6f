"""Notebook 01's stage: the profile's distillation corpus, what it reads and under which terms.

Embedded: the CLDR/Babel corpus (data.corpus). Paper: M-CLIP's pairs with their precomputed CLIP
text embeddings as targets, split as the reference splits them. The result is recorded
(records.save_corpus, records.save_sources) for every later notebook; the data card also records
how long the training captions are in the student's tokens, which the paper profile's cost
estimate (tomclip_lib/cost.py) pads its batches with.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd

from .. import assets, paths, records, report
from ..config import load_profile
from ..data import datacard
from ..data.corpus import CorpusConfig, build_corpus
from ..data.paper_check import check_paper_data
from ..data.paper_data import PaperData
from ..data.paper_sources import MclipPairs, MclipSplit, load_mclip_pairs, split_mclip
from ..errors import TomclipError
from ..io import write_json, write_text
from ..models.student import StudentConfig, student_tokenizer
from ..models.text import STUDENT_BACKBONE


def prepare_corpus(profile: str, config: CorpusConfig, paper: dict | None = None) -> pd.DataFrame:
    """Build and save the profile's distillation corpus; record which kind of sources it uses.

    Both kinds give one row per caption pair with the columns item, lang, source, en, text, split
    and low_resource; `config` shapes the embedded corpus only. The paper corpus adds target_row,
    its row in teacher_targets.npy (M-CLIP's precomputed CLIP text embedding of `en`).
    """
    if paper is None:
        corpus = build_corpus(config)
        records.save_sources(profile, None)
    else:
        data = PaperData.from_parameter(paper)
        check_paper_data(data)  # every missing download at once, before hours of loading
        corpus, targets, rows = _mclip_corpus(data)
        records.save_sources(profile, data, targets, rows)
    records.save_corpus(corpus, profile)
    return corpus


def _mclip_corpus(data: PaperData) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """M-CLIP pairs split as the reference does: validation first, then training, the low-resource
    rows being the first `low_resource_rows` training rows, all by raw embedding row (a dropped row
    leaves a gap, it does not move a boundary). Like the reference, it keeps the translations of
    every language among the rows read, not only the 13 evaluated ones. Also returns what was read
    and dropped, for the data card (mclip_rows)."""
    pairs = load_mclip_pairs(
        data.translations,
        data.embeddings,
        limit=data.rows,
        korean=data.korean,
        allow_fewer_rows=data.allow_fewer_rows,
        cache_dir=data.datasets_cache,
    )
    split = split_mclip(
        pairs, validation_rows=data.validation_rows, low_resource_rows=data.low_resource_rows, total_rows=None
    )
    parts = []
    for name, part in (("validation", split.validation), ("train", split.train)):
        parts.append(
            pd.DataFrame(
                {
                    "item": part.ids.astype(str),
                    "lang": part.languages,
                    "source": "mclip",
                    "en": part.english,
                    "text": part.translated,
                    "split": name,
                }
            )
        )
    corpus = pd.concat(parts, ignore_index=True)
    corpus["low_resource"] = False
    first_train = len(split.validation)
    corpus.loc[first_train : first_train + len(split.low_resource_train) - 1, "low_resource"] = True
    corpus["target_row"] = np.arange(len(corpus))
    # Validation then training rows are all the pairs, in order: the targets need no copy.
    return corpus, pairs.embeddings, _row_counts(pairs, split, data)


def _row_counts(pairs: MclipPairs, split: MclipSplit, data: PaperData) -> dict:
    """Rows asked, read and dropped (and why), and per split the embedding rows against the pairs kept."""
    read = pairs.read
    bounds = {
        "validation": data.validation_rows,
        "train": read.read - data.validation_rows,
        "low-resource train": data.low_resource_rows,
    }
    kept = {
        "validation": len(split.validation),
        "train": len(split.train),
        "low-resource train": len(split.low_resource_train),
    }
    return {
        "source": read.source,
        "asked": read.asked,
        "read": read.read,
        "dropped": dict(read.dropped),
        "kept": read.kept,
        "splits": [{"split": name, "embedding rows": bounds[name], "pairs kept": kept[name]} for name in bounds],
    }


def asset_table(paper: dict | None = None) -> pd.DataFrame:
    """What a profile reads, where from, under which terms (the data card's last table).

    `paper` is notebook 01's `paper_data` parameter; None resolves the embedded assets (all of them,
    each problem reported with its remedy).
    """
    if paper is None:
        return datacard.licence_table(record["identity"] for record in assets.prepare_all())
    data = PaperData.from_parameter(paper)
    rows = [
        ("M-CLIP translations", "English captions and their machine translations", data.translations),
        ("M-CLIP embeddings", "CLIP ViT-B/32 text embeddings of the English captions", data.embeddings),
        ("Korean captions", "the ToMCLIP reference's Korean translations", data.korean or "not used"),
        ("CIFAR-100 test", "10,000 images, 100 classes", data.cifar100_root),
        ("xFlickr&CO test", "IGLUE annotations, 8 languages", data.xflickrco_annotations),
        ("COCO val2014 images", "images of xFlickr&CO", data.coco_images or "not given"),
        ("Flickr30k images", "images of xFlickr&CO", data.flickr30k_images or "not given"),
        (f"CLIP {data.teacher_model}", "open_clip, the teacher", f"pretrained={data.teacher_weights}"),
    ]
    return pd.DataFrame([dict(asset=a, what=w, source=str(s), license="see the source's terms") for a, w, s in rows])


def categories(profile: str, corpus: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Rows to count by `category` and `split`, and a title: emoji per CLDR group (embedded), whose
    test split should cover the training groups, or caption pairs per language (paper)."""
    if records.kind(profile) == records.EMBEDDED:
        emoji = corpus.drop_duplicates("item").query("emoji != ''")
        return emoji[["group", "split"]].rename(columns={"group": "category"}), "Emoji per CLDR group and split"
    return corpus[["lang", "split"]].rename(columns={"lang": "category"}), "M-CLIP caption pairs per language and split"


def student_backbone(profile: str) -> str | None:
    """The student backbone params/<profile>.yaml's 03_train names (notebook 03's default where it names
    none), or None for a profile without a parameter file (one a test makes up)."""
    if not (paths.PARAMS_DIR / f"{profile}.yaml").is_file():
        return None
    backbone = load_profile(profile).get("03_train", {}).get("backbone", STUDENT_BACKBONE)
    if not isinstance(backbone, str) or not backbone.strip():
        raise TomclipError(
            f"params/{profile}.yaml, 03_train.backbone: an asset identity, hub id or folder, got {backbone!r}."
        )
    return backbone


def caption_tokens(profile: str, corpus: pd.DataFrame, backbone: str | None = None) -> tuple[dict | None, str]:
    """The training captions' token lengths as the student reads them (datacard.caption_tokens) with the
    tokenizer of `backbone` (None: the profile's, student_backbone), or None and why they were not measured.

    Both profiles' students read through a real tokenizer (XLM-R's comes from the hub, a few MB; the
    embedded multilingual-e5-small's is an asset notebook 01 has resolved), so both cards record it,
    for a few seconds of notebook 01 (loading the 250k-piece vocabulary); only the paper profile's cost
    estimate uses it.
    """
    where = "the backbone given" if backbone else f"params/{profile}.yaml, 03_train.backbone"
    backbone = backbone or student_backbone(profile)
    if backbone is None:
        return None, f"no params/{profile}.yaml names the student's backbone"
    try:
        tokenizer = student_tokenizer(backbone)
    except TomclipError as error:
        # tomclip sets HF_HUB_OFFLINE when the hub is unreachable: a hub id that is not cached cannot be
        # measured here (notebook 03 will say so). Online, a tokenizer that does not load is a wrong backbone.
        if os.environ.get("HF_HUB_OFFLINE") != "1":
            raise TomclipError(f"{where}: {error}") from None
        warnings.warn(f"Caption lengths not measured for the data card: {error}", stacklevel=2)
        return None, f"the tokenizer of `{backbone}` could not be loaded offline"
    student = StudentConfig(backbone=backbone)
    train = corpus.loc[corpus["split"] == "train", "text"]
    return datacard.caption_tokens(train, backbone, tokenizer, student.max_length, student.prefix), ""


def write_data_card(
    profile: str, corpus: pd.DataFrame, images: dict[str, int], licences: pd.DataFrame, backbone: str | None = None
) -> dict:
    """Write results/<profile>/data_card.{md,json} and the count tables; return the card as a dict.

    `licences` has the columns asset, what, source and license (asset_table). A paper profile's
    card also says how many M-CLIP rows were asked for, read and dropped (and why), since a partial
    download or empty translations would otherwise change its counts unseen. "caption_tokens" holds
    the training captions' token lengths under the tokenizer of `backbone` (None: the profile's
    student, caption_tokens).
    """
    rows = records.mclip_rows(profile)
    pairs, sources = datacard.pair_counts(corpus), datacard.source_counts(corpus)
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
    tokens, not_measured = caption_tokens(profile, corpus, backbone)
    if tokens is not None:
        card["caption_tokens"] = tokens
    mclip_section = []
    if rows is not None:
        card["mclip_rows"] = rows
        counts, splits = datacard.mclip_row_tables(rows)
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
    markdown = "\n".join(
        [
            f"# Data card: profile `{profile}`",
            "",
            "Written by `tomclip_lib.stages.data.write_data_card` (notebook 01_data); do not edit.",
            "",
            *mclip_section,
            "## Caption pairs per language and split",
            "",
            report.markdown_table(pairs),
            "## Training caption lengths in tokens",
            "",
            datacard.caption_tokens_sentence(tokens) if tokens else f"Not measured: {not_measured}.",
            "",
            "## Items and pairs per source",
            "",
            report.markdown_table(sources),
            "## Images",
            "",
            report.markdown_table(image_table),
            "## Assets, sources and licences",
            "",
            report.markdown_table(licences),
        ]
    )
    write_text(folder / "data_card.md", markdown)
    return card
