"""The data card is written by code and its counts add up."""
import json

from tomclip_lib.data import datacard
from tomclip_lib.data.languages import LANGUAGE_CODES


def test_data_card_counts_add_up_and_name_every_licence(small_corpus, output_dirs):
    identities = ["fashion-mnist", "cldr-annotations", "intfloat/multilingual-e5-small"]
    card = datacard.write_data_card("unit", small_corpus, {"Fashion-MNIST test": 10000},
                                    datacard.asset_table(identities))
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
