"""Loaders for the paper profile's real data: M-CLIP caption pairs, CIFAR-100 and xFlickr&CO.

Each loader reads the format its source publishes (see PAPER_SOURCES.md beside this file for the
formats and where they were learnt), so the paper profile runs on the same bytes the reference
implementation used. Every problem a user can fix raises TomclipError naming the file or parameter;
`datasets` and torchvision are imported inside the functions that need them because they are slow
to import and the embedded profile never does.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import TomclipError
from ..network import HUB_HOST, is_reachable
from .languages import LANGUAGE_CODES, check_languages

MCLIP_TRANSLATIONS = "M-CLIP/ImageCaptions-7M-Translations"
MCLIP_EMBEDDINGS = "M-CLIP/ImageCaptions-7M-Embeddings"
HUB_IDS = {"translations": MCLIP_TRANSLATIONS, "embeddings": MCLIP_EMBEDDINGS}
#: The embeddings config of CLIP ViT-B/32, the teacher the paper distils onto.
MCLIP_EMBEDDINGS_CONFIG = "Vit-B-32"
TRANSLATION_COLUMNS = ("caption", "caption_multi", "multi_language_code")
EMBEDDING_COLUMNS = ("id", "embedding")
KOREAN_COLUMNS = ("index", "caption_ko")
#: The reference reads the first 2,000,000 embedding rows: 5,000 validation + 1,995,000 training.
REFERENCE_TOTAL_ROWS = 2_000_000
#: The Hub's parquet converter names a split's folder `partial-<split>` when it stopped at its size limit.
PARTIAL_PREFIX = "partial-"
#: How a message names embeddings read from the Hub's parquet export (followed by the file pattern).
HUB_EXPORT = "the Hub's parquet export"
#: Why load_mclip_pairs drops an embedding row (the keys of MclipRead.dropped).
DROPPED_EMPTY = "empty translation"
DROPPED_LANGUAGE = "language not asked for"

CIFAR_FOLDER = "cifar-100-python"
CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"  # torchvision's CIFAR100.url
CIFAR_IMAGE_BYTES = 3 * 32 * 32
CIFAR_CLASSES = 100

XFLICKRCO_LANGUAGES = ("de", "en", "es", "id", "ja", "ru", "tr", "zh")
#: The paper's languages that xFlickr&CO has: the ones the paper profile scores retrieval in.
XFLICKRCO_EVALUATED = tuple(code for code in LANGUAGE_CODES if code in XFLICKRCO_LANGUAGES)
#: img_path values with this prefix are COCO val2014 files; all others are Flickr30k files.
COCO_PREFIX = "COCO_val2014_"
IMAGE_ROOT_KEYS = ("coco", "flickr30k")
#: Folder names of the Flickr30k JPEGs: the official tarball's, and the Kaggle archive's that IGLUE
#: points to (it unpacks as flickr30k_images/flickr30k_images/, the JPEGs in the inner folder).
FLICKR30K_FOLDERS = ("flickr30k-images", "flickr30k_images")


@dataclass(frozen=True)
class MclipRead:
    """What load_mclip_pairs read and dropped, for the data card and for the split's boundaries.

    `source` names the embedding files (or hub files) read, `asked` the rows asked for (`limit`;
    None: every row), `read` the rows that came, `dropped` how many of them were left out and why
    (DROPPED_EMPTY, DROPPED_LANGUAGE).
    """

    source: str
    asked: int | None
    read: int
    dropped: Mapping[str, int]

    @property
    def kept(self) -> int:
        return self.read - sum(self.dropped.values())


@dataclass(frozen=True)
class MclipPairs:
    """Caption pairs and their teacher embeddings, one row per kept embedding row, in its order.

    `english` is the caption the teacher embedded, `translated` the student's input, `languages`
    the code of `translated`, `ids` the embedding row's id (the translation row it came from),
    `positions` the row's position among the embedding rows read (0-based, counted before any row
    was dropped: the reference's split boundaries are positions) and `read` what the load read and
    dropped (the same for every selection of these pairs).
    """

    english: list[str]
    translated: list[str]
    languages: list[str]
    ids: np.ndarray  # int64, (N,)
    embeddings: np.ndarray  # float32, (N, D)
    positions: np.ndarray  # int64, (N,), increasing
    read: MclipRead

    def __len__(self) -> int:
        return len(self.ids)

    def select(self, rows: slice | np.ndarray) -> MclipPairs:
        """The rows `rows` (a slice or an array of indices into these pairs), in that order."""
        if isinstance(rows, slice):
            return MclipPairs(
                self.english[rows],
                self.translated[rows],
                self.languages[rows],
                self.ids[rows],
                self.embeddings[rows],
                self.positions[rows],
                self.read,
            )
        rows = np.asarray(rows, dtype=np.int64)
        return MclipPairs(
            [self.english[i] for i in rows],
            [self.translated[i] for i in rows],
            [self.languages[i] for i in rows],
            self.ids[rows],
            self.embeddings[rows],
            self.positions[rows],
            self.read,
        )


@dataclass(frozen=True)
class MclipSplit:
    train: MclipPairs
    validation: MclipPairs
    low_resource_train: MclipPairs


# ----------------------------------------------------------------------------- M-CLIP


def load_mclip_pairs(
    translations: str | Path,
    embeddings: str | Path,
    *,
    languages: Sequence[str] | None = None,
    limit: int | None = None,
    allow_fewer_rows: bool = False,
    korean: str | Path | None = None,
    embeddings_config: str = MCLIP_EMBEDDINGS_CONFIG,
    cache_dir: str | Path | None = None,
) -> MclipPairs:
    """Join M-CLIP's translated captions to their precomputed CLIP text embeddings.

    `translations` and `embeddings` are Hugging Face dataset ids (read from the Hub, only when it
    is reachable) or local copies: a parquet file, a folder of parquet files (the Hub's parquet
    export, e.g. `Vit-B-32/train/0000.parquet`) or a `save_to_disk` folder. Like M-CLIP and the
    ToMCLIP reference, an embedding row's `id` is the position of its caption in the translations
    table. `limit` keeps the first `limit` embedding rows before anything else (the reference
    reads 2,000,000); fewer rows than that raise TomclipError (a truncated copy or a `partial-`
    export), or only warn with allow_fewer_rows=True. `korean` is the reference's CSV of Korean
    captions (`index`, 1-based translation row, and `caption_ko`), which replaces those rows'
    translations with Korean ones: M-CLIP itself has no Korean. Then rows without a translated
    caption (missing or blank), and with `languages` (paper codes; M-CLIP uses the same ISO 639-1
    codes) rows of other languages, are dropped and counted in `read.dropped`; `positions` keeps
    every pair's place among the rows read, so that split_mclip cuts where the reference does.
    """
    import pandas as pd

    wanted = check_languages(languages) if languages is not None else None
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise TomclipError(f"limit={limit!r} must be a positive whole number of embedding rows, or None for all.")

    emb_table, source = _load_table(embeddings, "embeddings", EMBEDDING_COLUMNS, embeddings_config, cache_dir)
    if limit is not None:
        emb_table = emb_table.slice(0, limit)
    if emb_table.num_rows == 0:
        raise TomclipError(f"The M-CLIP embeddings at {embeddings} have no rows.")
    if limit is not None and emb_table.num_rows < limit:
        _fewer_rows(source, limit, emb_table.num_rows, allow_fewer_rows)
    ids = _integer_ids(emb_table.column("id"), embeddings)
    vectors = _embedding_matrix(emb_table.column("embedding"), embeddings)

    tr_table, _ = _load_table(translations, "translations", TRANSLATION_COLUMNS, None, cache_dir)
    inside = (ids >= 0) & (ids < tr_table.num_rows)
    if not inside.any():
        raise TomclipError(
            f"No embedding id from {embeddings} matches a row of {translations}: ids run from "
            f"{ids.min()} to {ids.max()}, the translations have {tr_table.num_rows} rows. Pass the "
            f"M-CLIP translations and embeddings that belong together "
            f"({MCLIP_TRANSLATIONS}, {MCLIP_EMBEDDINGS})."
        )
    if not inside.all():
        raise TomclipError(
            f"{int((~inside).sum())} of {len(ids)} embedding ids in {embeddings} have no row in "
            f"{translations} (which has {tr_table.num_rows} rows; first missing id: {ids[~inside][0]}). "
            "The translations file is truncated or from another release; use the complete one."
        )

    rows = tr_table.take(ids)
    english, translated, codes = (rows.column(name).to_numpy(zero_copy_only=False) for name in TRANSLATION_COLUMNS)
    if korean is not None:
        _overlay_korean(korean, tr_table.num_rows, ids, translated, codes)

    text = pd.Series(translated, dtype=object)
    empty = (text.isna() | (text.fillna("").astype(str).str.strip() == "")).to_numpy()
    keep = ~empty
    dropped = {DROPPED_EMPTY: int(empty.sum())}
    if wanted is not None:
        keep &= pd.Series(codes).isin(wanted).to_numpy()
        dropped[DROPPED_LANGUAGE] = int((~empty & ~keep).sum())
        missing = [c for c in wanted if not np.any(keep & (codes == c))]
        if missing:
            found = sorted({c for c in codes.tolist() if isinstance(c, str)})
            hint = " M-CLIP has no Korean: pass korean=<the reference's Korean CSV>." if "ko" in missing else ""
            raise TomclipError(
                f"No pairs for language(s) {missing} among the {len(ids)} embedding rows read from "
                f"{embeddings} (found {found}). Raise `limit` or drop those languages.{hint}"
            )
    if not keep.any():
        raise TomclipError(
            f"Every one of the {len(ids)} embedding rows read from {embeddings} was dropped ({dropped}): "
            f"{translations} has no usable translated caption for them. Pass the published translations "
            f"({MCLIP_TRANSLATIONS})."
        )
    return MclipPairs(
        english=english[keep].tolist(),
        translated=translated[keep].tolist(),
        languages=codes[keep].tolist(),
        ids=ids[keep],
        embeddings=vectors[keep],
        positions=np.flatnonzero(keep).astype(np.int64),
        read=MclipRead(source=source, asked=limit, read=len(ids), dropped=dropped),
    )


def _fewer_rows(source: str, asked: int, read: int, allowed: bool) -> None:
    """Refuse (or, when allowed, warn about) an embeddings copy that holds fewer rows than asked."""
    if PARTIAL_PREFIX in source:
        partial = (
            f" The path holds a '{PARTIAL_PREFIX}' folder: the Hub's parquet converter stopped at its size "
            "limit there, so that export is not the whole split."
        )
    elif source.startswith(HUB_EXPORT):
        partial = (
            f" The Hub's parquet converter stops at a size limit (it then names the folder "
            f"'{PARTIAL_PREFIX}train'), so its export may not be the whole split."
        )
    else:
        partial = ""
    message = f"Asked for the first {asked:,} M-CLIP embedding rows, but {source} hold only {read:,}.{partial}"
    if allowed:
        warnings.warn(
            f"tomclip: {message} Going on with {read:,} rows (allow_fewer_rows): the splits and counts "
            "differ from the reference's, and the data card says so.",
            stacklevel=3,
        )
        return
    raise TomclipError(
        f"{message} Use a complete copy of {MCLIP_EMBEDDINGS} (config {MCLIP_EMBEDDINGS_CONFIG}), lower "
        "`limit` (paper_data.rows), or accept the rows there are with allow_fewer_rows=True "
        "(paper_data.allow_fewer_rows: true)."
    )


def split_mclip(
    pairs: MclipPairs,
    *,
    validation_rows: int = 5000,
    low_resource_rows: int = 15000,
    total_rows: int | None = REFERENCE_TOTAL_ROWS,
    seed: int | None = None,
) -> MclipSplit:
    """Split pairs as the reference does: validation first, then training, by raw row positions.

    validation = positions [0, validation_rows); train (the full setting) = positions
    [validation_rows, total_rows) (None: every row read); low-resource train = positions
    [validation_rows, validation_rows + low_resource_rows), the reference's `train[5000:20000]`
    for datause=0.01. Positions count the embedding rows read, dropped ones included, so a dropped
    row leaves its split one pair short instead of shifting the boundaries. With `seed`, the
    low-resource positions are instead a seeded random sample of the training positions (kept in
    order), for repeats that vary the 1% subset. The same arguments always give the same split.
    """
    checked = (("validation_rows", validation_rows), ("low_resource_rows", low_resource_rows))
    if total_rows is not None:
        checked += (("total_rows", total_rows),)
    for name, value in checked:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise TomclipError(f"{name}={value!r} must be a positive whole number.")
    positions = pairs.positions
    if len(positions) != len(pairs) or np.any(np.diff(positions) <= 0):
        raise TomclipError(
            "The pairs' positions must be one increasing number per pair, as load_mclip_pairs gives them."
        )
    train_end = pairs.read.read if total_rows is None else min(pairs.read.read, total_rows)
    available = train_end - validation_rows
    if available < 1:
        raise TomclipError(
            f"validation_rows={validation_rows} leaves no training rows: {pairs.read.read} embedding rows "
            f"were read (total_rows={total_rows}). Load more rows (limit=...) or lower validation_rows."
        )
    if low_resource_rows > available:
        raise TomclipError(
            f"low_resource_rows={low_resource_rows} is more than the {available} training rows after "
            f"{validation_rows} validation rows. Load more rows (limit=...) or lower low_resource_rows."
        )
    first_train, end = np.searchsorted(positions, [validation_rows, train_end])
    if first_train == 0 or end == first_train:
        empty = "validation" if first_train == 0 else "training"
        raise TomclipError(
            f"Every {empty} row was dropped ({dict(pairs.read.dropped)} of {pairs.read.read} rows read from "
            f"{pairs.read.source}): there is nothing to {'validate' if empty == 'validation' else 'train'} on. "
            "Check the translations file, or the languages asked for."
        )
    if seed is None:
        low = pairs.select(slice(first_train, np.searchsorted(positions, validation_rows + low_resource_rows)))
    else:
        rng = np.random.default_rng(seed)
        chosen = validation_rows + rng.choice(available, low_resource_rows, replace=False)
        low = pairs.select(np.flatnonzero(np.isin(positions, chosen)))
    return MclipSplit(
        train=pairs.select(slice(first_train, end)),
        validation=pairs.select(slice(0, first_train)),
        low_resource_train=low,
    )


def _load_table(source, role: str, columns: Sequence[str], config: str | None, cache_dir):
    """The first split of `source` as a pyarrow Table, after checking it has `columns`, and a
    description of the files read (for messages that must say what was read)."""
    import datasets

    path = Path(source)
    if path.exists():
        dataset, described = _load_local(path, role, config, cache_dir)
    elif looks_like_hub_id(str(source)):
        dataset, described = _load_hub(str(source), role, config, cache_dir)
    else:
        raise TomclipError(
            f"The M-CLIP {role} source {source} does not exist. Pass a local parquet file or folder, "
            f"a save_to_disk folder, or the Hugging Face id ({HUB_IDS[role]})."
        )
    if isinstance(dataset, datasets.DatasetDict):
        if "train" not in dataset:
            raise TomclipError(f"The M-CLIP {role} at {source} has splits {list(dataset)}, but no 'train' split.")
        dataset = dataset["train"]
    absent = [c for c in columns if c not in dataset.column_names]
    if absent:
        raise TomclipError(
            f"The M-CLIP {role} at {source} lack column(s) {absent} (columns found: {dataset.column_names}). "
            f"Pass the published {role} ({HUB_IDS[role]})."
        )
    return dataset.select_columns(list(columns)).with_format("arrow")[:], described


def local_parquet_files(path: Path, config: str | None) -> list[Path]:
    """The parquet files a local M-CLIP copy holds: `path` itself, or every *.parquet under it (under
    its `config` subfolder when it has one: the Hub's export is <config>/<split>/NNNN.parquet)."""
    if path.is_dir() and config is not None and (path / config).is_dir():
        path = path / config
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    return [f for f in files if f.suffix == ".parquet"]


def is_saved_dataset(path: Path) -> bool:
    """Whether `path` is a folder written by datasets' save_to_disk."""
    return path.is_dir() and any((path / name).is_file() for name in ("state.json", "dataset_dict.json"))


def _load_local(path: Path, role: str, config: str | None, cache_dir):
    """Read a save_to_disk folder with load_from_disk, parquet files with the parquet builder (which
    restores the `datasets` features stored in the files, e.g. M-CLIP's Array2D embeddings)."""
    import datasets

    saved = is_saved_dataset(path)
    if not saved:
        files = local_parquet_files(path, config)
        if not files:
            raise TomclipError(
                f"No parquet file at {path} for the M-CLIP {role}. Pass the published parquet file(s), "
                "a folder of them, or a folder written by datasets' save_to_disk."
            )
    try:
        if saved:
            return datasets.load_from_disk(str(path)), f"the save_to_disk folder {path}"
        dataset = datasets.load_dataset(
            "parquet",
            data_files=[str(f) for f in files],
            split="train",
            cache_dir=None if cache_dir is None else str(cache_dir),
        )
    except Exception as exc:  # a corrupt or foreign file: report it, not the library's internals
        raise TomclipError(f"Could not read the M-CLIP {role} at {path}: {type(exc).__name__}: {exc}") from None
    return dataset, _describe_files(path, files)


def _describe_files(path: Path, files: Sequence[Path]) -> str:
    """'the N parquet files under <path> (a, b, c, ...)': what a message says was read."""
    if not path.is_dir():
        return f"the parquet file {path}"
    names = [str(f.relative_to(path)) for f in files]
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"the {len(files)} parquet file(s) under {path} ({shown})"


def _load_hub(repo: str, role: str, config: str | None, cache_dir):
    """Download from the Hub: the translations as published, the embeddings from the parquet export.

    The embeddings repo is built by a loading script, which `datasets` 4+ no longer runs; the Hub's
    automatic parquet export (revision refs/convert/parquet, one folder per config) holds the same rows.
    """
    import datasets

    if not is_reachable(HUB_HOST):
        raise TomclipError(
            f"The M-CLIP {role} '{repo}' is not a local path, and the Hugging Face Hub is unreachable to "
            "download it. Download it on a connected machine and pass the local file or folder instead."
        )
    cache = None if cache_dir is None else str(cache_dir)
    try:
        if config is None:
            return datasets.load_dataset(repo, split="train", cache_dir=cache), f"'{repo}' on the Hub"
        files = f"hf://datasets/{repo}@refs%2Fconvert%2Fparquet/{config}/*/*.parquet"
        dataset = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=cache)
    except Exception as exc:  # network, auth or a moved repo: say which source failed
        raise TomclipError(
            f"Could not load the M-CLIP {role} '{repo}' from the Hub: {type(exc).__name__}: {exc}. "
            "Check the id and your connection, or pass a local copy."
        ) from None
    return dataset, f"{HUB_EXPORT} {files}"


def looks_like_hub_id(text: str) -> bool:
    """Whether `text` has the shape of a Hub id, owner/name (a local path that does not exist may too)."""
    parts = text.split("/")
    return len(parts) == 2 and all(p and not p.startswith(".") for p in parts)


def _integer_ids(column, source) -> np.ndarray:
    import pyarrow as pa

    if not pa.types.is_integer(column.type) or column.null_count:
        raise TomclipError(
            f"Column 'id' of the M-CLIP embeddings at {source} must hold integers (translation row "
            f"numbers); it is {column.type} with {column.null_count} missing values."
        )
    return column.to_numpy().astype(np.int64)


def _embedding_matrix(column, source) -> np.ndarray:
    """Flatten the nested `embedding` lists (M-CLIP stores each as a 1 x D list) to float32 N x D.

    M-CLIP's script declares the column `datasets.Array2D((1, D), "float32")`, which `datasets`
    reads back as an Arrow extension array whose storage is the nested lists; plain, large and
    fixed-size lists are read as they are.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    storage, chunks = column.type, column.chunks
    while isinstance(storage, pa.BaseExtensionType):  # Array2D: the nested lists are its storage
        storage, chunks = storage.storage_type, [chunk.storage for chunk in chunks]
    values = pa.chunked_array(chunks, type=storage).combine_chunks()
    shape = []
    while any(test(values.type) for test in (pa.types.is_list, pa.types.is_large_list, pa.types.is_fixed_size_list)):
        lengths = pc.list_value_length(values).to_numpy(zero_copy_only=False)
        if values.null_count or (len(lengths) and lengths.min() != lengths.max()):
            raise TomclipError(
                f"The 'embedding' column of {source} has missing or ragged vectors (lengths "
                f"{sorted(set(lengths.tolist()))[:5]}); every row must hold one vector of the same size."
            )
        shape.append(int(lengths[0]) if len(lengths) else 0)
        values = values.flatten()
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)) or values.null_count:
        raise TomclipError(f"The 'embedding' column of {source} must hold numbers; it holds {values.type}.")
    if not shape or any(size != 1 for size in shape[:-1]):
        raise TomclipError(
            f"The 'embedding' column of {source} has shape {tuple(shape)} per row; expected one vector "
            "per row, stored as (D,) or (1, D) as M-CLIP does."
        )
    return values.to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(column), shape[-1])


def _overlay_korean(path, translation_rows: int, ids, translated, codes) -> None:
    """Put the reference's Korean captions into `translated`/`codes` where their row is in `ids`.

    The reference's CSV has 'index' (1-based translation row) and 'caption_ko'; it overwrote those
    rows' caption_multi and set their language to 'ko'.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise TomclipError(f"The Korean caption file korean={path} does not exist.")
    try:
        table = pd.read_csv(path, encoding="utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise TomclipError(f"Could not read the Korean caption file {path} as UTF-8 CSV: {exc}") from None
    absent = [c for c in KOREAN_COLUMNS if c not in table.columns]
    if absent:
        raise TomclipError(
            f"The Korean caption file {path} lacks column(s) {absent} (it has {list(table.columns)}); "
            "it needs 'index' (1-based translation row) and 'caption_ko'."
        )
    index = pd.to_numeric(table["index"], errors="coerce")
    bad = index.isna() | (index % 1 != 0) | (index < 1) | (index > translation_rows)
    if bad.any():
        raise TomclipError(
            f"Column 'index' of {path} must hold 1-based translation rows between 1 and {translation_rows}; "
            f"line {int(bad.idxmax()) + 2} has {table['index'][bad.idxmax()]!r}."
        )
    if index.duplicated().any():
        raise TomclipError(
            f"Column 'index' of {path} names translation row {int(index[index.duplicated()].iloc[0])} twice."
        )
    where = pd.Index(index.to_numpy(dtype=np.int64) - 1).get_indexer(ids)
    hit = where >= 0
    translated[hit] = table["caption_ko"].to_numpy(dtype=object)[where[hit]]
    codes[hit] = "ko"


# ----------------------------------------------------------------------------- CIFAR-100


def load_cifar100_test(root: str | Path, *, verify: bool = True) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The CIFAR-100 test set from `root`/cifar-100-python (torchvision's root convention).

    Returns images (uint8, N x 32 x 32 x 3), fine labels (int64) and the 100 fine class names.
    The files are pickles, so with verify=True (the default) their md5 sums are checked first
    against torchvision's, which also proves they are the official release.
    """
    folder = Path(root) / CIFAR_FOLDER
    files = {name: folder / name for name in ("test", "meta")}
    for path in files.values():
        if not path.is_file():
            raise TomclipError(
                f"CIFAR-100 file {path} does not exist. Pass root= the folder that contains {CIFAR_FOLDER}/ "
                f"(unpacked from {CIFAR100_URL})."
            )
    if verify:
        _verify_cifar_md5(files)
    test, meta = _unpickle(files["test"]), _unpickle(files["meta"])
    _require_keys(test, ("data", "fine_labels"), files["test"])
    _require_keys(meta, ("fine_label_names",), files["meta"])

    data = test["data"]
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != CIFAR_IMAGE_BYTES
    ):
        raise TomclipError(
            f"'data' in {files['test']} must be a uint8 array of N x {CIFAR_IMAGE_BYTES}; it is "
            f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}."
        )
    names = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in meta["fine_label_names"]]
    if len(names) != CIFAR_CLASSES:
        raise TomclipError(
            f"'fine_label_names' in {files['meta']} has {len(names)} names; CIFAR-100 has {CIFAR_CLASSES}."
        )
    labels = np.asarray(test["fine_labels"], dtype=np.int64)
    if labels.shape != (len(data),) or labels.min(initial=0) < 0 or labels.max(initial=0) >= CIFAR_CLASSES:
        raise TomclipError(
            f"'fine_labels' in {files['test']} must hold {len(data)} labels in 0..{CIFAR_CLASSES - 1}; "
            f"it has {labels.size} from {labels.min(initial=0)} to {labels.max(initial=0)}."
        )
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels, names


def _verify_cifar_md5(files: Mapping[str, Path]) -> None:
    from torchvision.datasets import CIFAR100

    expected = dict(CIFAR100.test_list)
    expected[CIFAR100.meta["filename"]] = CIFAR100.meta["md5"]
    for name, path in files.items():
        actual = _md5(path)
        if actual != expected[name]:
            raise TomclipError(
                f"md5 of {path} is {actual}, expected {expected[name]} (torchvision's CIFAR100): it is not "
                f"the official CIFAR-100 file. Re-download {CIFAR100.url}, "
                "or pass verify=False for test fixtures."
            )


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unpickle(path: Path) -> dict:
    """Load a CIFAR pickle; encoding='bytes' reads the Python 2 originals, keys become str."""
    try:
        with open(path, "rb") as f:
            content = pickle.load(f, encoding="bytes")
    except Exception as exc:  # whatever fails here, the file is not a CIFAR-100 pickle
        raise TomclipError(f"{path} is not a readable CIFAR-100 pickle ({type(exc).__name__}: {exc}).") from None
    if not isinstance(content, dict):
        raise TomclipError(f"{path} holds a {type(content).__name__}; a CIFAR-100 file holds a dict.")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in content.items()}


def _require_keys(content: dict, keys: Sequence[str], path: Path) -> None:
    absent = [k for k in keys if k not in content]
    if absent:
        raise TomclipError(
            f"{path} lacks key(s) {absent} (it has {sorted(map(str, content))}); is it a CIFAR-100 file?"
        )


# ----------------------------------------------------------------------------- xFlickr&CO


def load_xflickrco(
    annotations_root: str | Path, image_roots: Mapping[str, str | Path], lang: str
) -> list[tuple[Path, str]]:
    """The (image path, caption) pairs of xFlickr&CO's test split in `lang`, first caption per image.

    `annotations_root` is IGLUE's `datasets/xFlickrCO/annotations` folder, holding `<lang>/test.jsonl`.
    `image_roots` maps "coco" to the COCO val2014 image folder and "flickr30k" to the Flickr30k image
    folder; img_path values starting with COCO_val2014_ are COCO files, the rest Flickr30k files.
    """
    if lang not in XFLICKRCO_LANGUAGES:
        raise TomclipError(
            f"xFlickr&CO has no language {lang!r}; lang= must be one of {' '.join(XFLICKRCO_LANGUAGES)}."
        )
    roots = _image_roots(image_roots)
    file = Path(annotations_root) / lang / "test.jsonl"
    if not file.is_file():
        raise TomclipError(
            f"xFlickr&CO annotations {file} do not exist. Pass annotations_root= the annotations folder of "
            "IGLUE's datasets/xFlickrCO (github.com/e-bug/iglue), which holds <lang>/test.jsonl."
        )
    captions: dict[str, str] = {}
    with open(file, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            img_path, sentences = _annotation(line, file, number)
            captions.setdefault(img_path, sentences[0])
    if not captions:
        raise TomclipError(f"xFlickr&CO annotations {file} hold no captions.")

    pairs, missing = [], []
    for img_path, caption in captions.items():
        key = "coco" if img_path.startswith(COCO_PREFIX) else "flickr30k"
        if key not in roots:
            raise TomclipError(
                f"{file} names the {key} image {img_path}, but image_roots has no '{key}' folder; "
                f"give image_roots['{key}'] (COCO val2014 or the Flickr30k image folder)."
            )
        path = roots[key] / img_path
        pairs.append((path, caption))
        if not path.is_file():
            missing.append(path)
    if missing:
        raise TomclipError(
            f"{len(missing)} of {len(pairs)} images named in {file} are missing, "
            f"e.g. {', '.join(map(str, missing[:3]))}. "
            "Point image_roots at complete COCO val2014 and Flickr30k image folders."
        )
    return pairs


def _image_roots(image_roots: Mapping[str, str | Path]) -> dict[str, Path]:
    if not isinstance(image_roots, Mapping):
        raise TomclipError(
            f"image_roots must map 'coco' and 'flickr30k' to image folders; got {type(image_roots).__name__}."
        )
    unknown = [k for k in image_roots if k not in IMAGE_ROOT_KEYS]
    if unknown:
        raise TomclipError(f"image_roots has unknown key(s) {unknown}; use {' and '.join(IMAGE_ROOT_KEYS)}.")
    roots = {key: Path(folder) for key, folder in image_roots.items()}
    for key, folder in roots.items():
        if not folder.is_dir():
            hint = flickr30k_hint(folder) if key == "flickr30k" else ""
            raise TomclipError(f"image_roots['{key}'] = {folder} is not a folder.{hint}")
    if "flickr30k" in roots:
        roots["flickr30k"] = flickr30k_image_folder(roots["flickr30k"])
    return roots


def flickr30k_image_folder(folder: Path) -> Path:
    """The folder that holds the Flickr30k JPEGs, given it or a folder above it.

    The Kaggle archive IGLUE points to unpacks as flickr30k_images/flickr30k_images/ (the JPEGs in
    the inner one), the official tarball as flickr30k-images/; so go down through folders of those
    names while the folder holds no JPEG itself, which lets `flickr30k_images` name either level.
    """
    for _ in range(3):  # at most data/flickr30k -> flickr30k_images -> flickr30k_images
        inner = next((folder / name for name in FLICKR30K_FOLDERS if (folder / name).is_dir()), None)
        if inner is None or next(folder.glob("*.jpg"), None) is not None:
            break
        folder = inner
    return folder


def flickr30k_hint(folder: Path) -> str:
    """For a Flickr30k folder that does not exist: where beside it the real download is, if it is."""
    for name in FLICKR30K_FOLDERS:
        found = folder.parent / name
        if found != folder and found.is_dir():
            return (
                f" There is {found} beside it (the Kaggle archive unpacks as flickr30k_images/flickr30k_images/, "
                f"the JPEGs in the inner folder): name {flickr30k_image_folder(found)} instead."
            )
    return ""


def _annotation(line: str, file: Path, number: int) -> tuple[str, list[str]]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TomclipError(f"{file}:{number} is not valid JSON ({exc.msg}).") from None
    img_path = record.get("img_path") if isinstance(record, dict) else None
    sentences = record.get("sentences") if isinstance(record, dict) else None
    if (
        not isinstance(img_path, str)
        or not img_path
        or not isinstance(sentences, list)
        or not sentences
        or not all(isinstance(s, str) for s in sentences)
    ):
        raise TomclipError(
            f"{file}:{number} needs 'img_path' (a file name) and 'sentences' (a non-empty list of captions), "
            "as in IGLUE's xFlickrCO annotations."
        )
    return img_path, sentences
