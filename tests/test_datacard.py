"""The data card is written by code and its counts add up."""

import json
import re

import pytest
import yaml

from tomclip_lib import assets, cost, paths
from tomclip_lib.data import datacard
from tomclip_lib.data.corpus import CorpusConfig
from tomclip_lib.data.languages import LANGUAGE_CODES
from tomclip_lib.errors import TomclipError
from tomclip_lib.models.text import STUDENT_BACKBONE
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
    assert "caption_tokens" not in card and "Not measured: no params/unit.yaml names the student's backbone" in markdown


def test_the_embedded_card_measures_the_captions_as_e5_reads_them(small_corpus, output_dirs):
    card = data_stage.write_data_card("unit", small_corpus, {}, datacard.licence_table([]), backbone=STUDENT_BACKBONE)
    tokens = card["caption_tokens"]
    assert (tokens["tokenizer"], tokens["prefix"], tokens["max_length"]) == (STUDENT_BACKBONE, "query: ", 77)
    assert sum(tokens["histogram"].values()) == tokens["captions"] == int((small_corpus["split"] == "train").sum())
    # "query: " is <s>, "▁query", ":" before the caption's own pieces and </s>: no caption is shorter than 5.
    assert min(map(int, tokens["histogram"])) >= 5
    assert tokens["median"] == datacard.histogram_median(tokens["histogram"])
    markdown = (output_dirs / "results" / "unit" / "data_card.md").read_text()
    assert f'through the tokenizer of `{STUDENT_BACKBONE}`, each after the prefix "query: "' in markdown


def test_notebook_03s_default_backbone_is_the_one_the_card_falls_back_on():
    source = (paths.NOTEBOOKS_DIR / "03_train.py").read_text(encoding="utf-8")
    assert re.search(rf'^backbone = "{re.escape(STUDENT_BACKBONE)}"', source, flags=re.M)


def test_caption_token_histogram_counts_pieces_in_chunks_and_its_median():
    class Tokenizer:  # one piece per word, plus <s> and </s>
        def __call__(self, texts, truncation, max_length):
            return {"input_ids": [[0] * min(len(t.split()) + 2, max_length) for t in texts]}

    texts = ["a b", "c d", "e", "f g h i"]
    assert datacard.caption_token_histogram(texts, Tokenizer(), 77) == {"3": 1, "4": 2, "6": 1}
    assert datacard.caption_token_histogram(texts, Tokenizer(), 77, chunk=3) == {"3": 1, "4": 2, "6": 1}
    assert datacard.caption_token_histogram(texts, Tokenizer(), 4) == {"3": 1, "4": 3}  # cut at max_length
    assert datacard.histogram_median({"3": 1, "4": 2, "6": 1}) == 4
    assert datacard.histogram_median({"3": 1, "6": 1, "9": 0}) == 4.5
    record = datacard.caption_tokens(["a"], "words", Tokenizer(), 77, prefix="query: ")
    assert record == {
        "tokenizer": "words",
        "prefix": "query: ",
        "max_length": 77,
        "captions": 1,
        "median": 4,
        "histogram": {"4": 1},
    }
    with pytest.raises(TomclipError, match="at least 1"):
        datacard.caption_token_histogram(texts, Tokenizer(), 77, chunk=0)
    with pytest.raises(TomclipError, match="empty histogram"):
        datacard.histogram_median({})


def paper_data(tmp_path, translations, mclip_files, cifar100_root, hf_cache, **settings) -> dict:
    """Notebook 01's paper_data parameter for the paper fixtures (tests/paper_fixtures.py)."""
    from paper_fixtures import write_xflickrco

    from tomclip_lib.data.paper_sources import XFLICKRCO_LANGUAGES

    xflickrco = write_xflickrco(tmp_path / "xflickrco", languages=XFLICKRCO_LANGUAGES)
    return dict(
        translations=str(translations),
        embeddings=str(mclip_files.embeddings),
        validation_rows=4,
        low_resource_rows=6,
        cifar100_root=str(cifar100_root),
        verify_cifar100=False,
        xflickrco_annotations=str(xflickrco.annotations),
        coco_images=str(xflickrco.image_roots["coco"]),
        flickr30k_images=str(xflickrco.image_roots["flickr30k"]),
        teacher_weights=None,
        datasets_cache=str(hf_cache),
        **settings,
    )


def test_the_paper_card_reports_the_rows_asked_read_and_dropped(
    mclip_files, cifar100_root, hf_cache, output_dirs, monkeypatch, tmp_path
):
    from paper_fixtures import write_mclip_translations

    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: tmp_path / "artifacts" / profile)
    translations, _ = write_mclip_translations(tmp_path / "translations", blank={0: "", 7: None})
    paper = paper_data(tmp_path, translations, mclip_files, cifar100_root, hf_cache, rows=25, allow_fewer_rows=True)
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


def test_the_paper_card_measures_the_training_captions_and_the_cost_estimate_uses_them(
    mclip_files, cifar100_root, hf_cache, output_dirs, monkeypatch, tmp_path
):
    # The student as params/<profile>.yaml's 03_train names it: a local folder with XLM-R's vocabulary
    # (the multilingual-e5-small asset's, as the paper fixtures' tiny XLM-R uses; named by its path, no prefix).
    tokenizer_folder = assets.resolve(STUDENT_BACKBONE)
    params = yaml.safe_load((paths.PARAMS_DIR / "paper.yaml").read_text(encoding="utf-8"))
    params["common"]["profile"] = "p"
    params["03_train"]["backbone"] = str(tokenizer_folder)
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "p.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.setattr(paths, "PARAMS_DIR", tmp_path / "params")
    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: tmp_path / "artifacts" / profile)
    paper = paper_data(tmp_path, mclip_files.translations, mclip_files, cifar100_root, hf_cache, rows=None)
    corpus = data_stage.prepare_corpus("p", CorpusConfig(), paper)
    card = data_stage.write_data_card("p", corpus, {"zero-shot test": 20}, data_stage.asset_table(paper))

    tokens = card["caption_tokens"]
    training_captions = int((corpus["split"] == "train").sum())
    assert 0 < training_captions < len(corpus), "validation captions are not the student's training input"
    assert sum(tokens["histogram"].values()) == tokens["captions"] == training_captions
    assert (tokens["tokenizer"], tokens["prefix"], tokens["max_length"]) == (str(tokenizer_folder), "", 77)
    assert tokens["median"] == datacard.histogram_median(tokens["histogram"])
    card_path = output_dirs / "results" / "p" / "data_card.json"
    assert json.loads(card_path.read_text())["caption_tokens"] == tokens
    assert "## Training caption lengths in tokens" in (output_dirs / "results" / "p" / "data_card.md").read_text()

    # The cost estimate pads its batches with the card's histogram: longer captions, a costlier run.
    histogram, source = cost.caption_histogram("p", 77)
    assert source.startswith("measured by notebook 01") and f"{training_captions} training captions" in source
    assert sum(histogram.values()) == pytest.approx(1) and set(histogram) == set(map(int, tokens["histogram"]))
    measured_hours = cost.totals("p")
    longer = {str(int(k) + 30): n for k, n in tokens["histogram"].items()}
    card_path.write_text(json.dumps({**card, "caption_tokens": {**tokens, "histogram": longer}}))
    assert cost.totals("p")[0][0] > measured_hours[0][0] and cost.totals("p")[1][1] > measured_hours[1][1]
    card_path.unlink()
    assert cost.caption_histogram("p", 77)[1].startswith("assumed") and cost.totals("p") != measured_hours


def test_a_tokenizer_that_does_not_load_stops_the_card_online_and_is_skipped_offline(
    small_corpus, output_dirs, monkeypatch, tmp_path
):
    licences = datacard.licence_table([])
    absent = str(tmp_path / "no-such-backbone")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with pytest.raises(TomclipError, match="the backbone given: Cannot load the tokenizer"):
        data_stage.write_data_card("unit", small_corpus, {}, licences, backbone=absent)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as tomclip sets it when the hub is unreachable
    with pytest.warns(UserWarning, match="Caption lengths not measured"):
        card = data_stage.write_data_card("unit", small_corpus, {}, licences, backbone=absent)
    assert "caption_tokens" not in card
    markdown = (output_dirs / "results" / "unit" / "data_card.md").read_text()
    assert f"Not measured: the tokenizer of `{absent}` could not be loaded offline." in markdown


def test_a_backbone_that_names_nothing_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "q.yaml").write_text(yaml.safe_dump({"common": {"profile": "q"}, "03_train": {"backbone": 3}}))
    monkeypatch.setattr(paths, "PARAMS_DIR", tmp_path)
    with pytest.raises(TomclipError, match=r"params/q\.yaml, 03_train\.backbone"):
        data_stage.student_backbone("q")
    (tmp_path / "q.yaml").write_text(yaml.safe_dump({"common": {"profile": "q"}, "03_train": {}}))
    assert data_stage.student_backbone("q") == STUDENT_BACKBONE  # notebook 03's default
    assert data_stage.student_backbone("absent") is None
