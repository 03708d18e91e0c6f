"""Check every path of the paper profile before its first notebook runs, and list all that is wrong.

The paper profile reads several downloads of gigabytes, which unpack under other names than one
expects; a missing one would otherwise surface only when notebook 01 or 04 reaches it, one at a
time. This reads no data, only names, parquet row counts and xFlickr&CO's list of images, so it
takes seconds:

    python -m tomclip_lib.data.paper_check paper

A profile without `paper_data` (embedded, smoke) has nothing to check: it exits 0 silently, so that
`make` can run it before the notebooks of any profile.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..config import notebook_parameters
from ..errors import TomclipError
from ..network import HUB_HOST, is_reachable
from . import paper_sources as ps
from .paper_data import PaperData

COCO_VAL2014_URL = "http://images.cocodataset.org/zips/val2014.zip"
FLICKR30K_KAGGLE = "https://www.kaggle.com/datasets/hsankesara/flickr-image-dataset"
IGLUE_URL = "https://github.com/e-bug/iglue"
#: How to fetch each M-CLIP dataset for a local copy (the embeddings: the Hub's parquet export).
MCLIP_DOWNLOADS = {
    "translations": f"hf download {ps.MCLIP_TRANSLATIONS} --repo-type dataset --local-dir data/mclip/translations",
    "embeddings": (
        f"hf download {ps.MCLIP_EMBEDDINGS} --repo-type dataset --revision refs/convert/parquet "
        f"--include '{ps.MCLIP_EMBEDDINGS_CONFIG}/*' --local-dir data/mclip/embeddings"
    ),
}


def check_paper_data(data: PaperData, label: str = "paper_data") -> None:
    """Raise one TomclipError listing every configured path that is missing or incomplete, each
    with what to download and where to put it; `label` names the parameter in the messages."""
    problems = [
        *_mclip_problems("translations", data),
        *_mclip_problems("embeddings", data),
        *_korean_problems(data),
        *_cifar_problems(data),
        *_xflickrco_problems(data),
    ]
    if problems:
        raise TomclipError(
            f"The paper profile's data are not ready: {len(problems)} problem(s) with {label}.\n"
            + "\n".join(f"  - {problem}" for problem in problems)
            + "\nFix them (docs/profiles.md, 'Paper profile'), then check again: python -m tomclip_lib.data.paper_check"
        )


def _mclip_problems(role: str, data: PaperData) -> list[str]:
    """A local copy must hold parquet files (or be a save_to_disk folder), local embeddings at least
    `rows` rows (their parquet footers say how many); a Hub id needs a reachable Hub."""
    value = getattr(data, role)
    path = Path(value)
    download = (
        f"`{MCLIP_DOWNLOADS[role]}` (run from the repository root) downloads it; then set {role}: data/mclip/{role}"
    )
    if not path.exists():
        if not ps.looks_like_hub_id(value):
            return [f"{role}: {value} does not exist. {download}, or give the Hub id {ps.HUB_IDS[role]}."]
        if not is_reachable(HUB_HOST):
            return [
                f"{role}: '{value}' is a Hub id, and the Hugging Face Hub is unreachable. On a connected "
                f"machine, {download}."
            ]
        return []
    if ps.is_saved_dataset(path):
        return []
    config = ps.MCLIP_EMBEDDINGS_CONFIG if role == "embeddings" else None
    files = ps.local_parquet_files(path, config)
    if not files:
        return [f"{role}: no parquet file at {path}. {download}."]
    if role != "embeddings" or data.rows is None:
        return []
    import pyarrow.parquet as pq

    try:
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    except Exception as exc:  # a truncated download: name it, not pyarrow's internals
        return [
            f"{role}: could not read the parquet files under {path} ({type(exc).__name__}: {exc}). "
            f"Download them again: {MCLIP_DOWNLOADS[role]}."
        ]
    if rows >= data.rows or data.allow_fewer_rows:
        return []
    partial = [f for f in files if any(part.startswith(ps.PARTIAL_PREFIX) for part in f.parts)]
    why = (
        f" They lie in a '{ps.PARTIAL_PREFIX}' folder ({partial[0].parent}): the Hub's parquet converter "
        "stopped at its size limit there."
        if partial
        else ""
    )
    return [
        f"embeddings: the {len(files)} parquet file(s) under {path} hold {rows:,} rows, fewer than rows: "
        f"{data.rows:,}.{why} Use a complete copy, lower rows, or set allow_fewer_rows: true to go on "
        "with the rows there are."
    ]


def _korean_problems(data: PaperData) -> list[str]:
    if data.korean is None or Path(data.korean).is_file():
        return []
    return [
        f"korean: {data.korean} is not a file. It is the ToMCLIP reference's CSV (index, caption_ko), "
        "which is not published: get it from the reference's authors, or set korean: null (no Korean pairs)."
    ]


def _cifar_problems(data: PaperData) -> list[str]:
    unpack = f"Download {ps.CIFAR100_URL} and unpack it with `tar -xzf cifar-100-python.tar.gz -C <root>`"
    if not data.cifar100_root:
        return [f"cifar100_root is not given. {unpack}, and set cifar100_root: <root> (e.g. data/cifar100)."]
    root = Path(data.cifar100_root)
    absent = [name for name in ("test", "meta") if not (root / ps.CIFAR_FOLDER / name).is_file()]
    if not absent:
        return []
    if root.name == ps.CIFAR_FOLDER and (root / "test").is_file():
        return [
            f"cifar100_root: {root} is the {ps.CIFAR_FOLDER} folder itself; give the folder that holds it, "
            f"{root.parent}."
        ]
    return [
        f"cifar100_root: {' and '.join(str(root / ps.CIFAR_FOLDER / n) for n in absent)} do not exist. "
        f"{unpack.replace('<root>', str(root))}, which makes {root / ps.CIFAR_FOLDER}/."
    ]


def _xflickrco_problems(data: PaperData) -> list[str]:
    problems = []
    clone = (
        f"Clone {IGLUE_URL} (`git clone --depth 1 {IGLUE_URL} data/iglue`) and set xflickrco_annotations: "
        "data/iglue/datasets/xFlickrCO/annotations"
    )
    annotations = Path(data.xflickrco_annotations) if data.xflickrco_annotations else None
    if annotations is None:
        problems.append(f"xflickrco_annotations is not given. {clone}.")
    else:
        absent = [
            f"{lang}/test.jsonl" for lang in ps.XFLICKRCO_EVALUATED if not (annotations / lang / "test.jsonl").is_file()
        ]
        if absent:
            inner = annotations / "datasets" / "xFlickrCO" / "annotations"
            hint = f" It is IGLUE's root: name {inner}." if inner.is_dir() else f" {clone}."
            problems.append(f"xflickrco_annotations: {annotations} lacks {', '.join(absent)}.{hint}")
            annotations = None
    folders_ready = True
    for key, value, download in (
        (
            "coco_images",
            data.coco_images,
            f"Download {COCO_VAL2014_URL}, `unzip val2014.zip -d data/coco`, and set coco_images: data/coco/val2014",
        ),
        (
            "flickr30k_images",
            data.flickr30k_images,
            f"Download the Kaggle archive {FLICKR30K_KAGGLE} (the one IGLUE points to), unzip it in data/flickr30k "
            "(it unpacks as flickr30k_images/flickr30k_images/, the JPEGs in the inner folder), and set "
            "flickr30k_images: data/flickr30k/flickr30k_images (either of the two levels works)",
        ),
    ):
        if not value:
            problems.append(f"{key} is not given: xFlickr&CO's test images are in it. {download}.")
            folders_ready = False
        elif not Path(value).is_dir():
            hint = ps.flickr30k_hint(Path(value)) if key == "flickr30k_images" else ""
            problems.append(f"{key}: {value} is not a folder.{hint or ' ' + download + '.'}")
            folders_ready = False
    if annotations is not None and folders_ready:
        try:  # every language lists the same images (PAPER_SOURCES.md), so English's list is theirs
            ps.load_xflickrco(annotations, data.image_roots, "en")
        except TomclipError as error:
            problems.append(f"xFlickr&CO images: {error}")
    return problems


def main(argv: list[str]) -> int:
    """`python -m tomclip_lib.data.paper_check [PROFILE]` (default paper): 0 when all is there."""
    if len(argv) > 1:
        print("usage: python -m tomclip_lib.data.paper_check [PROFILE]", file=sys.stderr)
        return 2
    profile = argv[0] if argv else "paper"
    try:
        paper = notebook_parameters(profile, "01_data").get("paper_data")
        if paper is None:
            return 0
        check_paper_data(PaperData.resolve(paper), label=f"params/{profile}.yaml, 01_data.paper_data")
    except TomclipError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"params/{profile}.yaml: every path of paper_data is there.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
