"""Small, seeded copies of the paper profile's data sources, written in their real formats.

The paper profile's loaders (tomclip_lib/data/paper_sources.py) and its training tests read these
instead of the multi-gigabyte originals. Each writer takes a folder, sizes and a seed, and writes
the same layout, columns and dtypes as the published files (described in
tomclip_lib/data/PAPER_SOURCES.md); the content is synthetic.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

#: (code, multi_language_name, OPUS-MT model) for a few of M-CLIP's 48 target languages; "sv" is
#: not one of the paper's 13, so filters have something to drop. English rows keep the caption.
MCLIP_LANGUAGES = (
    ("de", "german", "Helsinki-NLP/opus-mt-en-de"),
    ("fr", "french", "Helsinki-NLP/opus-mt-en-fr"),
    ("ja", "japanese", "Helsinki-NLP/opus-mt-en-jap"),
    ("sv", "swedish", "Helsinki-NLP/opus-mt-en-sv"),
    ("en", "english", None),
)
TRANSLATIONS_FILE = "cc12m_7m_subset_translated.parquet"
KOREAN_FILE = "sampled_for_translation_korean_translated.csv"

CIFAR100_FINE_LABEL_NAMES = (
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
)
CIFAR100_COARSE_LABEL_NAMES = (
    "aquatic_mammals",
    "fish",
    "flowers",
    "food_containers",
    "fruit_and_vegetables",
    "household_electrical_devices",
    "household_furniture",
    "insects",
    "large_carnivores",
    "large_man-made_outdoor_things",
    "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores",
    "medium_mammals",
    "non-insect_invertebrates",
    "people",
    "reptiles",
    "small_mammals",
    "trees",
    "vehicles_1",
    "vehicles_2",
)


# ----------------------------------------------------------------------------- M-CLIP


@dataclass(frozen=True)
class MclipFixture:
    translations: Path  # the parquet file
    embeddings: Path  # the config folder (parquet-export layout: <config>/train/NNNN.parquet)
    korean: Path  # the reference's Korean CSV
    table: pd.DataFrame  # the translations as written, row i = embedding id i
    vectors: np.ndarray  # float32 (rows, dim): the embedding of id i is vectors[i]
    korean_rows: np.ndarray  # 0-based translation rows the Korean CSV replaces


def english_caption(row: int) -> str:
    return f"a photo of object number {row} on a table"


def translated_caption(row: int, code: str) -> str:
    return english_caption(row) if code == "en" else f"[{code}] caption {row}"


def korean_caption(row: int) -> str:
    return f"{row}번 물건이 있는 사진"


def write_mclip_translations(
    folder: str | Path,
    *,
    rows_per_language: int = 4,
    languages: Sequence[tuple] = MCLIP_LANGUAGES,
    blank: Mapping[int, str | None] | None = None,
) -> tuple[Path, pd.DataFrame]:
    """M-CLIP's translations file: one parquet table, languages in contiguous buckets as published.

    `blank` maps translation rows to what their caption_multi holds instead ("", None, spaces), as a
    failed translation may leave it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    blank = blank or {}
    records = []
    for code, name, model in languages:
        for _ in range(rows_per_language):
            row = len(records)
            records.append(
                {
                    "caption": english_caption(row),
                    "caption_sv": f"ett foto av objekt nummer {row}",
                    "caption_multi": blank[row] if row in blank else translated_caption(row, code),
                    "url": f"http://example.com/images/{row}.jpg",
                    "multi_language_code": code,
                    "multi_language_name": name,
                    "multiple_target_model": 0,  # every language here uses a single-target OPUS model
                    "target_code": None,
                    "opus_mt_url": model,
                    "index": row + 1,
                }
            )
    table = pd.DataFrame.from_records(records)
    schema = pa.schema(
        [
            ("caption", pa.string()),
            ("caption_sv", pa.string()),
            ("caption_multi", pa.string()),
            ("url", pa.string()),
            ("multi_language_code", pa.string()),
            ("multi_language_name", pa.string()),
            ("multiple_target_model", pa.int64()),
            ("target_code", pa.string()),
            ("opus_mt_url", pa.string()),
            ("index", pa.int64()),
        ]
    )
    path = folder / TRANSLATIONS_FILE
    pq.write_table(pa.Table.from_pandas(table, schema=schema, preserve_index=False), path)
    return path, table


def mclip_vectors(rows: int, dim: int = 512, seed: int = 0) -> np.ndarray:
    """Stand-in CLIP text embeddings: seeded Gaussian vectors scaled to CLIP's typical norm (~10)."""
    vectors = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    return vectors * np.float32(10 / np.sqrt(dim))


#: How an `embedding` column can be encoded in parquet: "array2d" is what the Hub's export of M-CLIP's
#: script (which declares `datasets.Array2D((1, D), "float32")`) holds; the others are plain Arrow
#: lists of 1 x D ("nested", "large", "fixed") or of D ("flat").
EMBEDDING_FORMS = ("array2d", "nested", "large", "fixed", "flat")


def embedding_column(vectors: np.ndarray, form: str) -> pa.Array:
    """The vectors as an Arrow list column of one of the plain EMBEDDING_FORMS."""
    dim = vectors.shape[1]
    types = {
        "nested": pa.list_(pa.list_(pa.float32())),
        "large": pa.large_list(pa.large_list(pa.float32())),
        "fixed": pa.list_(pa.list_(pa.float32(), dim), 1),
        "flat": pa.list_(pa.float32()),
    }
    values = vectors.tolist() if form == "flat" else vectors[:, None, :].tolist()
    return pa.array(values, types[form])


def write_mclip_embeddings(
    folder: str | Path,
    vectors: np.ndarray,
    *,
    order: np.ndarray | None = None,
    files: int = 2,
    config: str = "Vit-B-32",
    split: str = "train",
    form: str = "nested",
) -> Path:
    """M-CLIP's embeddings as the Hub's parquet export: <config>/<split>/0000.parquet, ...

    Row k holds id order[k] (default: ids in order) and its vector as a 1 x D list in `form` (one
    of EMBEDDING_FORMS). "array2d" is written by `datasets` itself, so the files carry its Array2D
    feature in their metadata, as the Hub's converter writes them; `split` "partial-train" is the
    converter's folder for a split it stopped converting at its size limit. Returns the config folder.
    """
    order = np.arange(len(vectors)) if order is None else np.asarray(order)
    folder = Path(folder) / config / split
    folder.mkdir(parents=True, exist_ok=True)
    for number, part in enumerate(np.array_split(order, files)):
        path = folder / f"{number:04d}.parquet"
        if form == "array2d":
            import datasets

            features = datasets.Features(
                {"id": datasets.Value("int64"), "embedding": datasets.Array2D((1, vectors.shape[1]), "float32")}
            )
            rows = {"id": part.tolist(), "embedding": vectors[part][:, None, :].tolist()}
            datasets.Dataset.from_dict(rows, features=features).to_parquet(str(path))
        else:
            pq.write_table(
                pa.table({"id": pa.array(part, pa.int64()), "embedding": embedding_column(vectors[part], form)}),
                path,
            )
    return folder.parent


def write_korean_captions(path: str | Path, rows: np.ndarray, table: pd.DataFrame) -> Path:
    """The reference's Korean CSV: 1-based `index` into the translations, English and Korean captions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "index": np.asarray(rows) + 1,
            "caption": table["caption"].to_numpy()[rows],
            "caption_ko": [korean_caption(int(r)) for r in rows],
        }
    ).to_csv(path, index=False, encoding="utf-8")
    return path


def write_mclip(
    folder: str | Path,
    *,
    rows_per_language: int = 4,
    dim: int = 512,
    korean_rows: int = 5,
    files: int = 2,
    shuffle: bool = True,
    seed: int = 0,
) -> MclipFixture:
    """Translations, embeddings (in shuffled id order unless shuffle=False) and a Korean CSV."""
    folder = Path(folder)
    translations, table = write_mclip_translations(folder / "translations", rows_per_language=rows_per_language)
    rows = len(table)
    rng = np.random.default_rng(seed)
    vectors = mclip_vectors(rows, dim, seed)
    order = rng.permutation(rows) if shuffle else np.arange(rows)
    embeddings = write_mclip_embeddings(folder / "embeddings", vectors, order=order, files=files)
    ko = np.sort(rng.choice(rows, size=korean_rows, replace=False))
    korean = write_korean_captions(folder / KOREAN_FILE, ko, table)
    return MclipFixture(translations, embeddings, korean, table, vectors, ko)


# ----------------------------------------------------------------------------- CIFAR-100


def write_cifar100(root: str | Path, *, images: int = 20, seed: int = 0) -> Path:
    """A `cifar-100-python/` folder with `test` and `meta` pickled as the original's keys read.

    Keys and label names are bytes, as Python 3 sees the Python 2 originals; `data` is uint8
    N x 3072 (all red, then green, then blue values of each row-major 32 x 32 image). The md5 sums
    differ from the official files, so loading needs verify=False. Coarse labels are random.
    """
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    test = {
        b"filenames": [f"fixture_{i}.png".encode() for i in range(images)],
        b"batch_label": b"testing batch 1 of 1",
        b"fine_labels": rng.integers(0, 100, images).tolist(),
        b"coarse_labels": rng.integers(0, 20, images).tolist(),
        b"data": rng.integers(0, 256, (images, 3 * 32 * 32), dtype=np.uint8),
    }
    meta = {
        b"fine_label_names": [n.encode() for n in CIFAR100_FINE_LABEL_NAMES],
        b"coarse_label_names": [n.encode() for n in CIFAR100_COARSE_LABEL_NAMES],
    }
    for name, content in (("test", test), ("meta", meta)):
        with open(folder / name, "wb") as f:
            pickle.dump(content, f, protocol=2)
    return Path(root)


# ----------------------------------------------------------------------------- xFlickr&CO


@dataclass(frozen=True)
class XflickrcoFixture:
    annotations: Path  # holds <lang>/test.jsonl
    image_roots: dict[str, Path]  # "coco": .../val2014, "flickr30k": .../flickr30k_images
    records: dict[str, list[dict]]  # per language, the JSON lines as written
    flickr30k_jpegs: Path  # the folder that holds the Flickr30k JPEGs (inside image_roots["flickr30k"] for Kaggle's)


def xflickrco_caption(lang: str, position: int, sentence: int = 0) -> str:
    return f"[{lang}] image {position} sentence {sentence}"


def write_xflickrco(
    folder: str | Path,
    *,
    languages: Sequence[str] = ("de", "en", "ja"),
    flickr_images: int = 3,
    coco_images: int = 2,
    sentences_per_image: int = 1,
    image_size: int = 8,
    kaggle_flickr30k: bool = False,
    seed: int = 0,
) -> XflickrcoFixture:
    """IGLUE's xFlickrCO annotations and tiny JPEG images in COCO val2014 / Flickr30k folders.

    As in IGLUE's test.jsonl: Flickr30k images first (string id, img_path '<id>.jpg'), then COCO
    ones (integer id, img_path 'COCO_val2014_<12-digit id>.jpg'); every language lists the same
    images in the same order, one sentence each unless sentences_per_image says otherwise. With
    kaggle_flickr30k, the Flickr30k folder is laid out as the Kaggle archive IGLUE points to unpacks:
    flickr30k_images/results.csv beside flickr30k_images/flickr30k_images/, which holds the JPEGs.
    """
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    roots = {"coco": folder / "coco" / "val2014", "flickr30k": folder / "flickr30k_images"}
    jpegs = roots["flickr30k"] / "flickr30k_images" if kaggle_flickr30k else roots["flickr30k"]
    for root in (roots["coco"], jpegs):
        root.mkdir(parents=True, exist_ok=True)
    flickr_ids = 10**8 + rng.choice(9 * 10**8, flickr_images, replace=False)  # Flickr30k-like 9-digit ids
    coco_ids = 1 + rng.choice(600_000, coco_images, replace=False)
    images = [(str(i), f"{i}.jpg", jpegs) for i in flickr_ids]
    images += [(int(i), f"COCO_val2014_{i:012d}.jpg", roots["coco"]) for i in coco_ids]
    if kaggle_flickr30k:  # the archive's captions file, in its own "|"-separated format
        (roots["flickr30k"] / "results.csv").write_text(
            "image_name| comment_number| comment\n"
            + "".join(f"{i}.jpg| 0| a caption of image {i}\n" for i in flickr_ids),
            encoding="utf-8",
        )
    for _, name, root in images:
        pixels = rng.integers(0, 256, (image_size, image_size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / name, format="JPEG")

    records = {}
    for lang in languages:
        records[lang] = [
            {
                "sentences": [xflickrco_caption(lang, k, s) for s in range(sentences_per_image)],
                "id": image_id,
                "img_path": name,
            }
            for k, (image_id, name, _) in enumerate(images)
        ]
        path = folder / "annotations" / lang / "test.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[lang]), encoding="utf-8")
    return XflickrcoFixture(folder / "annotations", roots, records, jpegs)


def tiny_xlm_roberta(tokenizer):
    """A random two-layer XLM-RoBERTa (seeded) on `tokenizer`'s vocabulary: the paper profile's
    student architecture at a size a test can train."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(0)
    shape = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=80,
    )
    return XLMRobertaModel(shape, add_pooling_layer=False)
