"""The paper profile's path check: every configured download at once, on fixtures in the real layouts."""

import re

import pytest
import yaml
from paper_fixtures import write_mclip_embeddings, write_xflickrco

from tomclip_lib import paths
from tomclip_lib.data import paper_check
from tomclip_lib.data.paper_check import check_paper_data
from tomclip_lib.data.paper_data import PaperData
from tomclip_lib.data.paper_sources import XFLICKRCO_LANGUAGES
from tomclip_lib.errors import TomclipError


@pytest.fixture(scope="module")
def complete(mclip_files, cifar100_root, tmp_path_factory):
    """A paper_data parameter whose every path is there (xFlickr&CO in all its languages)."""
    xflickrco = write_xflickrco(tmp_path_factory.mktemp("xflickrco-all"), languages=XFLICKRCO_LANGUAGES)
    return dict(
        translations=str(mclip_files.translations),
        embeddings=str(mclip_files.embeddings),
        korean=str(mclip_files.korean),
        rows=20,
        cifar100_root=str(cifar100_root),
        xflickrco_annotations=str(xflickrco.annotations),
        coco_images=str(xflickrco.image_roots["coco"]),
        flickr30k_images=str(xflickrco.image_roots["flickr30k"]),
    )


def problems(paper: dict) -> list[str]:
    """The problems check_paper_data lists (none: an empty list)."""
    try:
        check_paper_data(PaperData.resolve(paper))
    except TomclipError as error:
        return re.findall(r"^  - (.*)$", str(error), flags=re.M)
    return []


def test_everything_present_passes(complete):
    assert problems(complete) == []


def test_two_missing_paths_are_named_in_one_message(complete, tmp_path):
    paper = {**complete, "cifar100_root": str(tmp_path / "cifar"), "coco_images": str(tmp_path / "coco")}
    with pytest.raises(TomclipError, match=r"2 problem\(s\)") as error:
        check_paper_data(PaperData.resolve(paper))
    cifar, coco = re.findall(r"^  - (.*)$", str(error.value), flags=re.M)
    assert (
        cifar.startswith("cifar100_root: ") and "cifar-100-python.tar.gz" in cifar and str(tmp_path / "cifar") in cifar
    )
    assert coco.startswith("coco_images: ") and "val2014.zip" in coco


def test_nothing_given_lists_every_source_with_its_download(monkeypatch):
    monkeypatch.setattr(paper_check, "is_reachable", lambda host: False)
    found = problems({})
    assert [p.split(" ")[0].rstrip(":") for p in found] == [
        "translations",
        "embeddings",
        "cifar100_root",
        "xflickrco_annotations",
        "coco_images",
        "flickr30k_images",
    ]
    assert (
        "hf download M-CLIP/ImageCaptions-7M-Embeddings --repo-type dataset --revision refs/convert/parquet" in found[1]
    )
    assert "github.com/e-bug/iglue" in found[3] and "kaggle.com" in found[5]


def test_a_partial_embeddings_export_with_too_few_rows(complete, mclip_files, tmp_path):
    partial = write_mclip_embeddings(tmp_path, mclip_files.vectors, split="partial-train")
    [problem] = problems({**complete, "embeddings": str(partial), "rows": 25})
    assert "hold 20 rows, fewer than rows: 25" in problem and "'partial-' folder" in problem
    assert problems({**complete, "embeddings": str(partial), "rows": 25, "allow_fewer_rows": True}) == []


def test_the_kaggle_flickr30k_layout_passes_and_the_official_name_points_to_it(complete, tmp_path):
    kaggle = write_xflickrco(tmp_path, languages=XFLICKRCO_LANGUAGES, kaggle_flickr30k=True)
    paper = {
        **complete,
        "xflickrco_annotations": str(kaggle.annotations),
        "coco_images": str(kaggle.image_roots["coco"]),
    }
    assert problems({**paper, "flickr30k_images": str(kaggle.image_roots["flickr30k"])}) == []
    [problem] = problems({**paper, "flickr30k_images": str(tmp_path / "flickr30k-images")})
    assert problem.startswith("flickr30k_images: ") and f"name {kaggle.flickr30k_jpegs} instead" in problem


def test_missing_images_and_languages_are_reported(complete, tmp_path):
    files = write_xflickrco(tmp_path, languages=["en", "de"])
    (files.image_roots["coco"] / files.records["en"][-1]["img_path"]).unlink()
    paper = {
        **complete,
        "xflickrco_annotations": str(files.annotations),
        "coco_images": str(files.image_roots["coco"]),
        "flickr30k_images": str(files.image_roots["flickr30k"]),
    }
    [languages] = problems(paper)
    assert "lacks ja/test.jsonl, es/test.jsonl, ru/test.jsonl, zh/test.jsonl, tr/test.jsonl." in languages
    for lang in ("es", "ja", "ru", "tr", "zh"):
        (files.annotations / lang).mkdir()
        (files.annotations / lang / "test.jsonl").write_bytes((files.annotations / "en" / "test.jsonl").read_bytes())
    [images] = problems(paper)
    assert images.startswith("xFlickr&CO images: 1 of 5 images")


def test_the_command_line_checks_a_profile(complete, tmp_path, monkeypatch, capsys):
    sections = {"common": {"profile": "mine"}, "01_data": {"paper_data": complete}}
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(sections))
    missing = {**sections, "01_data": {"paper_data": {**complete, "cifar100_root": str(tmp_path / "none")}}}
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump({**missing, "common": {"profile": "broken"}}))
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump({"common": {"profile": "plain"}}))
    monkeypatch.setattr(paths, "PARAMS_DIR", tmp_path)
    assert paper_check.main(["mine"]) == 0 and "every path of paper_data is there" in capsys.readouterr().out
    assert paper_check.main(["broken"]) == 1
    assert re.search(r"params/broken\.yaml, 01_data\.paper_data.*\n  - cifar100_root: ", capsys.readouterr().err)
    assert paper_check.main(["plain"]) == 0 and capsys.readouterr() == ("", ""), "no paper_data: nothing to check"
