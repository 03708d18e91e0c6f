"""The profile's sources: a bad `paper_data` parameter and a missing notebook 01 are told plainly;
the paper profile's validation queries for the ablations."""

import numpy as np
import pandas as pd
import pytest

from tomclip_lib import evaluation_sets, paths, records
from tomclip_lib.data.paper_data import PaperData
from tomclip_lib.errors import TomclipError
from tomclip_lib.io import write_json


def test_unknown_paper_data_keys_are_named_with_the_known_ones():
    with pytest.raises(TomclipError, match=r"unknown key\(s\) \['cifar_root'\].*cifar100_root"):
        PaperData.from_parameter({"cifar_root": "x", "xflickrco_annotations": "y"})


def test_the_evaluation_folders_are_required():
    with pytest.raises(TomclipError, match="lacks cifar100_root and xflickrco_annotations"):
        PaperData.from_parameter({})


def test_a_paper_data_that_is_not_a_mapping_is_refused():
    with pytest.raises(TomclipError, match="must be a mapping"):
        PaperData.from_parameter("data/")


def test_relative_folders_are_read_from_the_repository_root_and_hub_ids_stay():
    data = PaperData.from_parameter({"cifar100_root": "data/cifar100", "xflickrco_annotations": "/abs/ann"})
    assert data.cifar100_root == str(paths.REPO_ROOT / "data" / "cifar100")
    assert data.xflickrco_annotations == "/abs/ann"
    assert data.translations == "M-CLIP/ImageCaptions-7M-Translations"  # no such local folder: a hub id


def test_later_notebooks_before_notebook_01_say_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: tmp_path / profile)
    with pytest.raises(TomclipError, match="run notebook 01_data first"):
        records.kind("nothing-yet")


@pytest.fixture
def paper_validation(tmp_path, monkeypatch):
    """A paper profile as notebook 01 leaves it: the record, M-CLIP targets and a corpus whose
    validation rows repeat one English caption (rows 0 and 3), as M-CLIP's captions sometimes do."""
    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: tmp_path / profile)
    write_json(tmp_path / "p" / "sources.json", {"kind": "paper", "paper_data": None})
    targets = 10 * np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
    targets[3] = targets[0]
    np.save(tmp_path / "p" / "teacher_targets.npy", targets)
    english = ["a dog", "a cat", "a car", "a dog", "a tree", "a boat"]
    corpus = pd.DataFrame(
        {
            "item": [str(i) for i in range(6)],
            "lang": ["en", "ko", "ko", "de", "sv", "ko"],
            "en": english,
            "text": [f"t{i}" for i in range(6)],
            "split": ["validation"] * 5 + ["train"],
            "low_resource": False,
            "target_row": range(6),
        }
    )
    return corpus, targets


def test_paper_validation_queries_find_each_translation_among_the_english_targets(paper_validation):
    corpus, targets = paper_validation
    queries = evaluation_sets.retrieval_queries("p", corpus, None, "validation", ["en", "ko", "ja", "de"])
    assert queries.captions == {"en": ["t0"], "ko": ["t1", "t2"], "de": ["t3"]}, "no ja row; sv is not asked for"
    assert len(queries.gallery) == 4, "one gallery row per distinct English validation caption"
    assert queries.truth["en"][0] == queries.truth["de"][0], "a repeated caption is one gallery row"
    by_text = {f"t{i}": targets[i] / np.linalg.norm(targets[i]) for i in range(6)}
    assert queries.recall_at_1(lambda texts: np.stack([by_text[t] for t in texts])) == 1.0
    swapped = {**by_text, "t1": by_text["t2"], "t2": by_text["t1"]}
    assert queries.recall_at_1(lambda texts: np.stack([swapped[t] for t in texts])) == pytest.approx(2 / 3)


def test_paper_validation_without_the_asked_languages_says_what_to_raise(paper_validation):
    with pytest.raises(TomclipError, match="raise paper_data.validation_rows"):
        evaluation_sets.retrieval_queries("p", paper_validation[0], None, "validation", ["ja", "vi"])
