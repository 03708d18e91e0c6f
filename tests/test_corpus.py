"""The distillation corpus: parallel, split by item, deterministic, and large enough."""

import pytest

from tomclip_lib.data.corpus import CorpusConfig, build_corpus, split_pairs, unit_hash
from tomclip_lib.data.languages import LANGUAGE_CODES
from tomclip_lib.errors import TomclipError


def test_every_item_has_one_pair_per_language_and_source(small_corpus):
    per_item = small_corpus.groupby(["item", "source"])["lang"].apply(sorted)
    assert all(langs == sorted(LANGUAGE_CODES) for langs in per_item)


def test_test_items_never_appear_in_training_in_any_language(small_corpus):
    splits = small_corpus.groupby("item")["split"].nunique()
    assert (splits == 1).all()
    train = set(split_pairs(small_corpus, "train")["item"])
    assert train.isdisjoint(split_pairs(small_corpus, "test")["item"])
    assert train.isdisjoint(split_pairs(small_corpus, "validation")["item"])


def test_english_pairs_with_itself_and_the_teacher_side_is_english(small_corpus):
    english = small_corpus[small_corpus["lang"] == "en"]
    assert (english["en"] == english["text"]).all()
    per_item_en = small_corpus.groupby(["item", "source"])["en"].nunique()
    assert (per_item_en == 1).all()


def test_low_resource_is_a_subset_of_training(small_corpus):
    low = split_pairs(small_corpus, "train", "low")
    assert 0 < len(low) < len(split_pairs(small_corpus, "train"))
    assert small_corpus.loc[small_corpus["low_resource"], "split"].eq("train").all()


def test_building_twice_gives_the_same_corpus(small_corpus):
    again = build_corpus(CorpusConfig(max_items=120, low_resource_fraction=0.3))
    assert again.equals(small_corpus)


def test_an_items_split_does_not_depend_on_the_other_items():
    small = build_corpus(CorpusConfig(max_items=40)).drop_duplicates("item").set_index("item")["split"]
    large = build_corpus(CorpusConfig(max_items=200)).drop_duplicates("item").set_index("item")["split"]
    assert (large.loc[small.index] == small).all()


@pytest.mark.slow
def test_the_full_corpus_holds_the_low_resource_setting_of_the_ablation():
    corpus = build_corpus()
    low = split_pairs(corpus, "train", "low")
    assert len(low) >= 1000, "the issue asks for at least 1,000 low-resource pairs"
    assert len(low) >= 4 * 512, "several batches of the ablation's largest batch size (512)"
    test_emoji = split_pairs(corpus, "test").query("source == 'emoji-name'")["item"].nunique()
    assert test_emoji >= 100


def test_unit_hash_is_stable():
    assert unit_hash("emoji:1F600") == unit_hash("emoji:1F600")
    assert 0 <= unit_hash("anything") < 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(languages=("ko", "ja")), "needs English"),
        (dict(languages=("en", "xx")), "Unknown language"),
        (dict(test_fraction=0.0), "strictly between 0 and 1"),
        (dict(validation_fraction=0.6, test_fraction=0.5), "below 1"),
    ],
)
def test_bad_configurations_are_refused(kwargs, message):
    with pytest.raises(TomclipError, match=message):
        CorpusConfig(**kwargs)


def test_bad_split_or_setting_is_refused(small_corpus):
    with pytest.raises(TomclipError, match="Unknown split"):
        split_pairs(small_corpus, "dev")
    with pytest.raises(TomclipError, match="Unknown setting"):
        split_pairs(small_corpus, "train", "tiny")
