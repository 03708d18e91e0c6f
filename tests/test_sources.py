"""The profile's sources: a bad `paper_data` parameter and a missing notebook 01 are told plainly."""
import pytest

from tomclip_lib import paths, sources
from tomclip_lib.errors import TomclipError


def test_unknown_paper_data_keys_are_named_with_the_known_ones():
    with pytest.raises(TomclipError, match=r"unknown key\(s\) \['cifar_root'\].*cifar100_root"):
        sources.PaperData.from_parameter({"cifar_root": "x", "xflickrco_annotations": "y"})


def test_the_evaluation_folders_are_required():
    with pytest.raises(TomclipError, match="lacks cifar100_root and xflickrco_annotations"):
        sources.PaperData.from_parameter({})


def test_a_paper_data_that_is_not_a_mapping_is_refused():
    with pytest.raises(TomclipError, match="must be a mapping"):
        sources.PaperData.from_parameter("data/")


def test_relative_folders_are_read_from_the_repository_root_and_hub_ids_stay():
    data = sources.PaperData.from_parameter({"cifar100_root": "data/cifar100", "xflickrco_annotations": "/abs/ann"})
    assert data.cifar100_root == str(paths.REPO_ROOT / "data" / "cifar100")
    assert data.xflickrco_annotations == "/abs/ann"
    assert data.translations == "M-CLIP/ImageCaptions-7M-Translations"  # no such local folder: a hub id


def test_later_notebooks_before_notebook_01_say_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: tmp_path / profile)
    with pytest.raises(TomclipError, match="run notebook 01_data first"):
        sources.kind("nothing-yet")
