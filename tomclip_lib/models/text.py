"""Frozen text encoders and their sentence features, cached on disk.

The embedded profile uses two frozen Hugging Face encoders: the teacher's English text tower
(all-MiniLM-L6-v2) and the student's multilingual backbone (multilingual-e5-small). Encoding
tens of thousands of captions takes minutes on two cores, so features are cached in
$TOMCLIP_CACHE/features/, keyed by the model's files, the prefix and the texts.
"""
from __future__ import annotations

import functools
import hashlib

import numpy as np

from .. import assets, paths
from ..encoding import encode
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


def text_features(identity: str, texts: list[str], *, normalize: bool = True, batch_size: int = 128) -> np.ndarray:
    """Mean-pooled features (N, 384) float32 of `texts` under a frozen encoder, cached on disk.

    normalize=True L2-normalises rows (sentence embeddings); the cache stores the raw pooled
    vectors, so both views share one entry.
    """
    prefix = PREFIXES.get(identity, "")
    key = hashlib.sha256("\n".join([_fingerprint(identity), prefix, *texts]).encode("utf-8")).hexdigest()[:24]
    path = paths.cache_dir() / "features" / identity.replace("/", "--") / f"{key}.npy"
    if path.exists():
        features = np.load(path)
    else:
        model, tokenizer = load_encoder(identity)
        features = encode(model, tokenizer, texts, prefix=prefix, batch_size=batch_size, normalize=False,
                          progress=len(texts) > 2000).numpy()
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.save(handle, features)
    if normalize:
        features = features / np.linalg.norm(features, axis=1, keepdims=True).clip(1e-12)
    return features.astype(np.float32)
