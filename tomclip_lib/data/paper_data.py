"""Where the paper profile's data are: notebook 01's `paper_data` parameter, resolved and checked for shape.

Hub ids are read from the Hugging Face Hub when it is reachable; every other value is a local path
(a relative one is read from the repository root). data/paper_check.py checks the paths themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

from .. import paths
from ..errors import TomclipError
from .paper_sources import MCLIP_EMBEDDINGS, MCLIP_TRANSLATIONS, REFERENCE_TOTAL_ROWS


@dataclass(frozen=True)
class PaperData:
    """Where the paper profile's data are: the `paper_data` parameter of notebook 01 (params/paper.yaml).

    Hub ids are read from the Hugging Face Hub when it is reachable; every other value is a local path.
    """

    translations: str = MCLIP_TRANSLATIONS
    embeddings: str = MCLIP_EMBEDDINGS
    korean: str | None = None  # the reference's Korean CSV (M-CLIP has no Korean); None drops Korean
    rows: int | None = REFERENCE_TOTAL_ROWS  # embedding rows read, as the reference (None: all)
    allow_fewer_rows: bool = False  # fewer than `rows` (a partial export): warn and go on instead of failing
    validation_rows: int = 5000
    low_resource_rows: int = 15000  # the reference's datause=0.01
    cifar100_root: str = ""  # holds cifar-100-python/
    verify_cifar100: bool = True  # md5 against torchvision's (off only for test fixtures)
    xflickrco_annotations: str = ""  # IGLUE datasets/xFlickrCO/annotations
    coco_images: str = ""  # COCO val2014 image folder
    flickr30k_images: str = ""  # Flickr30k image folder
    teacher_weights: str | None = "openai"  # open_clip pretrained tag of the teacher (None: random, for tests)
    # The teacher's open_clip architecture, or an open_clip model-config JSON file (the tests' tiny CLIP);
    # M-CLIP's embeddings (`embeddings`) must be this model's text embeddings.
    teacher_model: str = "ViT-B-32"
    datasets_cache: str | None = None  # Hugging Face datasets cache (None: its default)

    @classmethod
    def resolve(cls, value: dict) -> PaperData:
        """The parameter checked for shape, relative paths read from the repository root; no folder is
        required (the path check, data/paper_check.py, reports every missing one at once)."""
        if not isinstance(value, dict):
            raise TomclipError(
                f"paper_data must be a mapping of {', '.join(f.name for f in fields(cls))}; got {type(value).__name__}."
            )
        unknown = sorted(set(value) - {f.name for f in fields(cls)})
        if unknown:
            raise TomclipError(
                f"paper_data has unknown key(s) {unknown}; known: {', '.join(f.name for f in fields(cls))}."
            )
        data = cls(**value)
        return replace(
            data,
            **{name: _from_root(getattr(data, name), must_exist=False) for name in _FOLDERS},
            **{name: _from_root(getattr(data, name), must_exist=True) for name in ("translations", "embeddings")},
        )

    @classmethod
    def from_parameter(cls, value: dict) -> PaperData:
        data = cls.resolve(value)
        missing = [name for name in ("cifar100_root", "xflickrco_annotations") if not getattr(data, name)]
        if missing:
            raise TomclipError(
                f"paper_data lacks {' and '.join(missing)}: the paper profile evaluates on CIFAR-100 "
                "and xFlickr&CO, so give their folders in params/paper.yaml (see docs/profiles.md, 'Paper profile')."
            )
        return data

    @property
    def image_roots(self) -> dict[str, str]:
        return {
            key: folder for key, folder in (("coco", self.coco_images), ("flickr30k", self.flickr30k_images)) if folder
        }


_FOLDERS = ("korean", "cifar100_root", "xflickrco_annotations", "coco_images", "flickr30k_images", "datasets_cache")


def _from_root(value: str | None, must_exist: bool) -> str | None:
    """A relative path is read from the repository root; with must_exist, only if it exists there
    (translations and embeddings may instead be hub ids, which look like relative paths)."""
    if not value or Path(value).is_absolute():
        return value
    path = paths.REPO_ROOT / value
    return str(path) if path.exists() or not must_exist else value
