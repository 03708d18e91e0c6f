"""Frozen text encoders and their sentence features, cached on disk.

The embedded profile uses two frozen Hugging Face encoders: the teacher's English text tower
(all-MiniLM-L6-v2) and the student's multilingual backbone (multilingual-e5-small). Encoding
tens of thousands of captions takes minutes on two cores, so every text's features are cached in
$TOMCLIP_CACHE/features/, keyed by the model's files and the prefix.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from .. import assets, numerics, paths
from ..encoding import ENCODING_VERSION, encode
from ..io import atomic_path

TEACHER_TEXT = "sentence-transformers/all-MiniLM-L6-v2"
STUDENT_BACKBONE = "intfloat/multilingual-e5-small"
#: The prefix each encoder was trained with (E5 distinguishes queries from passages).
PREFIXES = {TEACHER_TEXT: "", STUDENT_BACKBONE: "query: "}


@functools.cache
def load_encoder(identity: str):
    """(model, tokenizer) of a frozen text encoder asset, in eval mode, without pooler."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    folder = assets.resolve(identity)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the checkpoint's unused pooler weights are expected
    hf_logging.disable_progress_bar()
    try:
        model = AutoModel.from_pretrained(folder, add_pooling_layer=False, local_files_only=True).eval()
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model, tokenizer


def _fingerprint(identity: str) -> str:
    """Changes whenever the model's files change (the asset manifest lists their SHA-256)."""
    manifest = assets.resolve(identity) / assets.MANIFEST
    return hashlib.sha256(manifest.read_bytes()).hexdigest()[:16]


_STORES: dict[str, tuple[float, dict[str, int], np.ndarray]] = {}


def _read_store(path) -> tuple[dict[str, int], np.ndarray]:
    """The texts and features already encoded, memoised per process while the file is unchanged."""
    if not path.exists():
        return {}, np.zeros((0, 0), dtype=np.float32)
    stamp = path.stat().st_mtime_ns
    cached = _STORES.get(str(path))
    if cached is None or cached[0] != stamp:
        with np.load(path, allow_pickle=False) as store:
            texts, features = store["texts"].tolist(), store["features"]
        cached = (stamp, {text: i for i, text in enumerate(texts)}, features)
        _STORES[str(path)] = cached
    return cached[1], cached[2]


def text_features(identity: str, texts: list[str], *, normalize: bool = True) -> np.ndarray:
    """Mean-pooled features (N, 384) float32 of `texts` under a frozen encoder, cached per text.

    One store per encoder (keyed by its files and prefix) in $TOMCLIP_CACHE/features/ holds every
    text encoded so far; only new texts are encoded, and the store is rewritten atomically (two
    processes adding at once lose nothing but each other's additions, which are encoded again
    later). `encode` makes a text's vector independent of what it was encoded with, so the store's
    history does not change any number; the key covers the numeric environment (numerics.signature),
    so features computed under other kernels or thread counts never mix. normalize=True L2-normalises rows; the store keeps the raw
    pooled vectors.
    """
    prefix = PREFIXES.get(identity, "")
    environment = numerics.signature()  # other kernels, other last bits: another store
    key = hashlib.sha256(f"{_fingerprint(identity)}|{prefix}|{ENCODING_VERSION}|{environment}".encode()).hexdigest()[
        :16
    ]
    path = paths.cache_dir() / "features" / f"{identity.replace('/', '--')}-{key}.npz"
    index, features = _read_store(path)
    missing = [t for t in dict.fromkeys(texts) if t not in index]
    if missing:
        model, tokenizer = load_encoder(identity)
        new = encode(model, tokenizer, missing, prefix=prefix, normalize=False, progress=len(missing) > 2000).numpy()
        all_texts = list(index) + missing
        features = np.concatenate([features.reshape(-1, new.shape[1]), new])
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, texts=np.array(all_texts), features=features)
        index = {text: i for i, text in enumerate(all_texts)}
    rows = features[[index[t] for t in texts]] if texts else np.zeros((0, features.shape[-1]), dtype=np.float32)
    if normalize:
        rows = rows / np.linalg.norm(rows, axis=1, keepdims=True).clip(1e-12)
    return rows.astype(np.float32)
