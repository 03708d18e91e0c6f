"""The data card is written by code and its counts add up."""

import json
import re

import pytest

from tomclip_lib import paths
from tomclip_lib.data import datacard
from tomclip_lib.data.corpus import CorpusConfig
from tomclip_lib.data.languages import LANGUAGE_CODES
from tomclip_lib.stages import data as data_stage


def test_data_card_counts_add_up_and_name_every_licence(small_corpus, output_dirs):
    identities = ["fashion-mnist", "cldr-annotations", "intfloat/multilingual-e5-small"]
    card = data_stage.write_data_card(
        "unit", small_corpus, {"Fashion-MNIST test": 10000}, datacard.licence_table(identities)
    )
    pairs = {row["language"]: row for row in card["pairs_per_language"]}
    assert list(pairs)[:-1] == list(LANGUAGE_CODES) and "all" in pairs
    assert sum(pairs["all"][s] for s in ("train", "validation", "test")) == len(small_corpus)
    assert pairs["all"]["low-resource train"] == int(small_corpus["low_resource"].sum())
    assert [a["license"] for a in card["assets"]] == ["MIT", "Unicode License v3", "MIT"]
    folder = output_dirs / "results" / "unit"
    assert json.loads((folder / "data_card.json").read_text())["profile"] == "unit"
    markdown = (folder / "data_card.md").read_text()
    assert "## Caption pairs per language and split" in markdown and "| ko " in markdown
    assert (folder / "data_pairs_per_language.csv").exists()
    assert "mclip_rows" not in card and "M-CLIP" not in markdown, "only a paper profile's card has M-CLIP rows"


def test_the_paper_card_reports_the_rows_asked_read_and_dropped(
    mclip_files, cifar100_root, hf_cache, output_dirs, monkeypatch, tmp_path
):
    from paper_fixtures import write_mclip_translations, write_xflickrco

    from tomclip_lib.data.paper_sources import XFLICKRCO_LANGUAGES

    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: tmp_path / "artifacts" / profile)
    translations, _ = write_mclip_translations(tmp_path / "translations", blank={0: "", 7: None})
    xflickrco = write_xflickrco(tmp_path / "xflickrco", languages=XFLICKRCO_LANGUAGES)
    paper = dict(
        translations=str(translations),
        embeddings=str(mclip_files.embeddings),
        rows=25,
        allow_fewer_rows=True,
        validation_rows=4,
        low_resource_rows=6,
        cifar100_root=str(cifar100_root),
        verify_cifar100=False,
        xflickrco_annotations=str(xflickrco.annotations),
        coco_images=str(xflickrco.image_roots["coco"]),
        flickr30k_images=str(xflickrco.image_roots["flickr30k"]),
        teacher_weights=None,
        datasets_cache=str(hf_cache),
    )
    with pytest.warns(UserWarning, match="hold only 20"):
        corpus = data_stage.prepare_corpus("p", CorpusConfig(), paper)
    assert len(corpus) == 18
    card = data_stage.write_data_card("p", corpus, {"zero-shot test": 20}, data_stage.asset_table(paper))
    rows = card["mclip_rows"]
    assert (rows["asked"], rows["read"], rows["dropped"], rows["kept"]) == (25, 20, {"empty translation": 2}, 18)
    splits = {s["split"]: (s["embedding rows"], s["pairs kept"]) for s in rows["splits"]}
    assert splits["validation"][0] == 4 and splits["train"][0] == 16 and splits["low-resource train"][0] == 6
    assert splits["validation"][1] + splits["train"][1] == 18
    assert splits["validation"][1] == int((corpus["split"] == "validation").sum())
    assert splits["low-resource train"][1] == int(corpus["low_resource"].sum())
    markdown = (output_dirs / "results" / "p" / "data_card.md").read_text()
    assert (
        f"## M-CLIP embedding rows read\n\nRead from the 2 parquet file(s) under {mclip_files.embeddings}" in markdown
    )
    assert re.search(r"^\| validation +\| +4 \| +\d+ \|$", markdown, flags=re.M), "split, embedding rows, pairs kept"
    for label, count in (
        ("asked (paper_data.rows)", 25),
        ("dropped: empty translation", 2),
        ("kept as caption pairs", 18),
    ):
        assert re.search(rf"^\| {re.escape(label)} +\| +{count} \|$", markdown, flags=re.M), label
    assert json.loads((output_dirs / "results" / "p" / "data_card.json").read_text())["mclip_rows"] == rows
