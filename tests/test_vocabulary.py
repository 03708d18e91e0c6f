"""The WordNet vocabulary of the converged students: read, filtered of held-out captions, added to training only."""

import numpy as np
import pandas as pd
import pytest

from tomclip_lib.data import vocabulary
from tomclip_lib.errors import TomclipError
from tomclip_lib.models.student import StudentConfig
from tomclip_lib.stages import distillation, grid

INDEX = """\
  1 This software and database is being provided to you, the LICENSEE, by
  2 Princeton University under the following license.
sandal n 1 2 @ ~ 1 1 04133789
ankle_boot n 1 1 @ 1 0 02713282
1st_class n 1 1 @ 1 0 13809769
a.d. n 1 1 @ 1 0 15171008
cat n 8 6 @ ~ #m #p %p + 8 1 02121620 10153414
coat n 3 5 @ ~ #p %p + 3 3 03057021 05232972 09352893
"""


def _corpus() -> pd.DataFrame:
    rows = [("cat", "Katze", "test"), ("Cat", "cat", "validation"), ("coat", "Mantel", "train")]
    frame = pd.DataFrame(rows, columns=["en", "text", "split"])
    return frame.assign(item=[f"emoji:{i}" for i in range(3)], source="emoji-name", lang="de", low_resource=False)


@pytest.fixture
def index_file(tmp_path, monkeypatch):
    path = tmp_path / "index.noun"
    path.write_text(INDEX, encoding="utf-8")
    monkeypatch.setattr(vocabulary.assets, "asset_file", lambda identity, name: path)
    return path


def test_the_nouns_are_read_without_the_licence_lines_and_with_spaces_for_underscores(index_file):
    assert vocabulary.wordnet_nouns() == ["sandal", "ankle boot", "cat", "coat"]


def test_no_held_out_caption_becomes_a_training_pair_and_each_noun_is_an_english_pair(index_file):
    pairs = vocabulary.vocabulary_pairs(_corpus(), None)
    assert sorted(pairs["en"]) == ["ankle boot", "coat", "sandal"]  # "cat" is a test and a validation caption
    assert (pairs["en"] == pairs["text"]).all() and (pairs["lang"] == "en").all()
    assert pairs["item"].str.startswith("wordnet:").all()


def test_in_the_prompt_form_each_noun_is_read_inside_the_english_prompt_in_the_same_order(index_file):
    nouns = vocabulary.vocabulary_pairs(_corpus(), None)
    prompts = vocabulary.vocabulary_pairs(_corpus(), None, "prompt")
    assert list(prompts["item"]) == list(nouns["item"])
    assert dict(zip(nouns["en"], prompts["en"])) == {
        "sandal": "a photo of a sandal",
        "ankle boot": "a photo of an ankle boot",
        "coat": "a photo of a coat",
    }
    assert (prompts["en"] == prompts["text"]).all()


def test_in_the_caption_form_each_noun_is_read_in_another_teacher_template_never_the_prompt(index_file):
    nouns = vocabulary.vocabulary_pairs(_corpus(), None)
    captions = vocabulary.vocabulary_pairs(_corpus(), None, "caption")
    assert list(captions["item"]) == list(nouns["item"])
    for noun, caption in zip(nouns["en"], captions["en"]):
        article = "an " if noun[0] in "aeiou" else "a "
        others = {
            f"a picture of {article}{noun}",
            f"an image of {article}{noun}",
            f"a close-up photo of {article}{noun}",
        }
        assert caption in others and caption != vocabulary.english_prompt(noun)
    assert (captions["en"] == captions["text"]).all()
    # The template is the noun's own: the same noun gets the same caption whatever else is read.
    assert vocabulary.english_caption("sandal") == dict(zip(nouns["en"], captions["en"]))["sandal"]


def test_a_noun_whose_prompt_is_a_held_out_caption_is_left_out_in_every_form(index_file):
    corpus = pd.concat([_corpus(), _corpus().iloc[[0]].assign(en="a photo of a sandal", item="emoji:9")])
    for form in vocabulary.FORMS:
        assert "sandal" not in " ".join(vocabulary.vocabulary_pairs(corpus, None, form)["en"])


def test_a_noun_whose_caption_is_a_held_out_caption_is_left_out_in_every_form(index_file):
    caption = vocabulary.english_caption("sandal")
    corpus = pd.concat([_corpus(), _corpus().iloc[[0]].assign(en=caption, item="emoji:9")])
    for form in vocabulary.FORMS:
        assert "sandal" not in " ".join(vocabulary.vocabulary_pairs(corpus, None, form)["en"])


def test_an_unknown_form_is_a_clear_error(index_file):
    with pytest.raises(TomclipError, match="form must be one of"):
        vocabulary.vocabulary_pairs(_corpus(), None, "sentence")
    with pytest.raises(TomclipError, match="converged_vocabulary_form must be one of"):
        grid.main_grid(["MCLIP"], ["MCLIP"], 1.0, None, 0, [], converged_epochs=80, converged_vocabulary_form="x")


def test_a_smaller_vocabulary_is_the_start_of_the_same_fixed_order(index_file):
    everything = list(vocabulary.vocabulary_pairs(_corpus(), None)["en"])
    assert list(vocabulary.vocabulary_pairs(_corpus(), 2)["en"]) == everything[:2]
    assert vocabulary.vocabulary_pairs(_corpus(), 0).empty


@pytest.mark.parametrize("size", [-1, 2.5, "all"])
def test_a_size_that_is_not_a_count_is_a_clear_error(index_file, size):
    with pytest.raises(TomclipError, match="whole number >= 0 or None"):
        vocabulary.vocabulary_pairs(_corpus(), size)


def test_the_vocabulary_joins_the_training_pairs_only_and_changes_their_key(index_file):
    corpus = _corpus()
    config = StudentConfig(trainable_layers="all")  # the inputs are the texts: no backbone to load

    def targets(pairs):
        return np.full((len(pairs), 3), 0.5, dtype=np.float32)

    plain = distillation._pairs(corpus, config, targets, "full")
    wider = distillation._pairs(corpus, config, targets, "full", vocabulary.vocabulary_pairs(corpus, None))
    assert plain.train.inputs == ["Mantel"]
    assert wider.train.inputs == ["Mantel", *vocabulary.vocabulary_pairs(corpus, None)["text"]]
    assert wider.validation.inputs == plain.validation.inputs == ["cat"]
    assert wider.train.groups.tolist() == [0, 0, 1, 2]  # "coat" in the corpus and in WordNet: one caption, one batch
    assert wider.key != plain.key


def test_only_the_converged_rows_read_the_vocabulary():
    rows = grid.main_grid(["MCLIP", "ToMCLIP"], ["MCLIP"], 1.0, None, 0, [], converged_epochs=80, converged_seeds=2)
    assert {row.name: row.vocabulary for row in rows if "converged" in row.name} == {
        "MCLIP (converged)": 0,
        "ToMCLIP (converged)": 0,
    }
    rows = grid.main_grid(
        ["MCLIP"],
        ["MCLIP"],
        1.0,
        None,
        0,
        [],
        converged_epochs=80,
        converged_vocabulary=None,
        converged_vocabulary_form="prompt",
    )
    assert [(row.vocabulary, row.vocabulary_form) for row in rows] == [(0, "noun"), (None, "prompt"), (None, "prompt")]


def test_the_paper_profile_refuses_a_vocabulary_with_a_clear_error(monkeypatch):
    monkeypatch.setattr(distillation.records, "kind", lambda profile: distillation.records.PAPER)
    with pytest.raises(TomclipError, match="Set converged_vocabulary to 0 there"):
        distillation.setting_pairs("paper", _corpus(), StudentConfig(trainable_layers="all"), "full", None)
