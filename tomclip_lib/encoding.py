"""Sentence embeddings from a Hugging Face encoder: attention-masked mean pooling, batched by length.

The one place that turns texts into pooled vectors, for the converted student backbone's check,
the teacher's text tower features and the student's frozen-feature cache.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .errors import TomclipError


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the token vectors that the mask keeps (padding excluded)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1)


#: Changes whenever `encode` could give other numbers for the same text (cache keys include it).
ENCODING_VERSION = 2


def encode(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    prefix: str = "",
    batch_size: int = 16,
    normalize: bool = True,
    progress: bool = False,
) -> torch.Tensor:
    """Mean-pooled sentence embeddings (float32, on the model's device), one row per text, in order.

    A text's vector is bit-for-bit the same whatever other texts it is encoded with, so cached
    features do not depend on the cache's history: every batch holds texts of a single token
    length (no padding, whose shapes change the floating-point rounding) and exactly
    `batch_size` rows (filled up with copies of its first text, as matrix kernels round
    differently for different row counts). `prefix` is prepended to every text (E5 expects
    "query: "). The model runs in inference mode and keeps its train/eval state.
    """
    if isinstance(texts, str):
        raise TomclipError("encode() takes a sequence of texts, not a single string; wrap it in a list.")
    device = next(model.parameters()).device
    if not texts:
        return torch.empty(0, model.config.hidden_size, device=device)
    texts = [prefix + text for text in texts]
    max_length = min(tokenizer.model_max_length, model.config.max_position_embeddings)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    by_length: dict[int, list[int]] = {}
    for i, length in enumerate(lengths):
        by_length.setdefault(length, []).append(i)
    batches = [
        rows[start : start + batch_size]
        for _, rows in sorted(by_length.items())
        for start in range(0, len(rows), batch_size)
    ]
    out = torch.empty(len(texts), model.config.hidden_size, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for rows in tqdm(batches, desc="encoding", unit="batch", leave=False) if progress else batches:
                filled = [texts[i] for i in rows] + [texts[rows[0]]] * (batch_size - len(rows))
                batch = tokenizer(filled, padding=True, truncation=True, max_length=max_length, return_tensors="pt").to(
                    device
                )
                hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
                pooled = mean_pool(hidden, batch["attention_mask"]).float()[: len(rows)]
                out[rows] = F.normalize(pooled, dim=-1) if normalize else pooled
    finally:
        model.train(was_training)
    return out
