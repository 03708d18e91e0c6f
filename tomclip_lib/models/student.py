"""The student: a Hugging Face text encoder + attention-masked mean pooling + a head to the teacher.

Which backbone layers train is configurable: none (the embedded default: the backbone's pooled
features are computed once per caption and cached, a step costs milliseconds), the top k, or all
(the paper: xlm-roberta-large, fully fine-tuned). The head is the paper's Linear layer, or a
two-layer MLP when the backbone is frozen and a linear map would be all the student could learn.

With the top k layers training (0 < k < the backbone's layer count), the embeddings and the lower
layers stay frozen and shared by every student of the process; each student holds its own copy of
the top k layers. What enters them for a text never changes, so `Student.cached_inputs` computes
it once (`CachedTokenStates`, kept on disk for asset backbones) and a training step runs the k
layers alone on `CachedTokenStates.select(rows)`.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import assets, numerics, paths
from ..encoding import ENCODING_VERSION, encode, mean_pool
from ..errors import TomclipError
from ..io import atomic_path
from .text import PREFIXES, STUDENT_BACKBONE, _fingerprint, load_encoder, text_features


class TokenBatch(NamedTuple):
    """The token states of a batch of texts, as they enter the first trainable layer, padded."""

    hidden: torch.Tensor  # (B, T, H) float32, zeros at padding
    attention_mask: torch.Tensor  # (B, T) int64, 1 for a token, 0 for padding


class CachedTokenStates:
    """Per-text token states (the output of the last frozen layer), stored flat without padding.

    Text i's states are `states[offsets[i] : offsets[i + 1]]`. `to_dict()` holds plain tensors only,
    so it can go into a file read with torch.load(weights_only=True); `from_dict` reads it back.
    """

    def __init__(self, states: torch.Tensor, offsets: torch.Tensor):
        if states.dim() != 2 or offsets.dim() != 1 or len(offsets) < 1:
            raise TomclipError(
                f"Token states must be (tokens, H) with offsets (N + 1,), got {tuple(states.shape)} "
                f"and {tuple(offsets.shape)}."
            )
        offsets = offsets.to(torch.int64)
        if int(offsets[0]) != 0 or int(offsets[-1]) != len(states) or bool((offsets.diff() < 1).any()):
            raise TomclipError(
                "Token state offsets must start at 0, rise by at least one token per text and end "
                f"at the number of states ({len(states)})."
            )
        self.states, self.offsets = states.float(), offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> torch.Tensor:
        """The token count of each text (int64, (N,))."""
        return self.offsets.diff()

    def select(self, rows: torch.Tensor | Sequence[int]) -> TokenBatch:
        """The texts `rows`, padded at the end to the longest of them: (hidden, attention_mask)."""
        rows = torch.as_tensor(rows, dtype=torch.int64).reshape(-1)
        starts, lengths = self.offsets[rows], self.lengths[rows]
        width = int(lengths.max()) if len(rows) else 0
        positions = torch.arange(width, dtype=torch.int64)
        mask = positions.unsqueeze(0) < lengths.unsqueeze(1)
        index = torch.where(mask, starts.unsqueeze(1) + positions, 0)
        hidden = torch.where(mask.unsqueeze(-1), self.states[index], 0.0)
        return TokenBatch(hidden, mask.to(torch.int64))

    def subset(self, rows: torch.Tensor | Sequence[int]) -> CachedTokenStates:
        """The texts `rows` (in that order) as a container of their own, e.g. a training split."""
        return _gather(self.states, self.offsets, torch.as_tensor(rows, dtype=torch.int64).reshape(-1))

    def to_dict(self) -> dict[str, torch.Tensor]:
        return {"states": self.states, "offsets": self.offsets}

    @classmethod
    def from_dict(cls, data: dict[str, torch.Tensor]) -> CachedTokenStates:
        return cls(data["states"], data["offsets"])


def _gather(states: torch.Tensor, offsets: torch.Tensor, rows: torch.Tensor) -> CachedTokenStates:
    """The flat states of texts `rows` of (states, offsets), one copy of the selected tokens."""
    lengths = offsets[rows + 1] - offsets[rows]
    new_offsets = torch.zeros(len(rows) + 1, dtype=torch.int64)
    torch.cumsum(lengths, 0, out=new_offsets[1:])
    shift = torch.repeat_interleave(offsets[rows] - new_offsets[:-1], lengths)
    return CachedTokenStates(states[torch.arange(int(new_offsets[-1])) + shift], new_offsets)


@dataclass(frozen=True)
class StudentConfig:
    backbone: str = STUDENT_BACKBONE  # an asset identity, a Hugging Face id or a local folder
    out_dim: int = 384  # the teacher's embedding size
    head_hidden: int | None = 1024  # None: one Linear layer, as the paper
    trainable_layers: int | str = 0  # 0 (frozen, cached features), k top layers, or "all"
    max_length: int = 77

    def __post_init__(self):
        if not (
            self.trainable_layers == "all" or (isinstance(self.trainable_layers, int) and self.trainable_layers >= 0)
        ):
            raise TomclipError(f"trainable_layers must be 'all' or a whole number >= 0, got {self.trainable_layers!r}.")

    @property
    def frozen(self) -> bool:
        return self.trainable_layers == 0

    @property
    def prefix(self) -> str:
        return PREFIXES.get(self.backbone, "")


@functools.cache
def _tokenizer(source: str):
    """One tokenizer per source and process: loading XLM-R's 250k-piece vocabulary takes seconds, and
    every student of a grid (and every evaluation of one) would otherwise load it again."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(source)


def student_tokenizer(backbone: str):
    """The tokenizer a student of `backbone` reads its captions with, loaded as the student loads it
    (an asset's folder, a local folder or a hub id), without its weights: what the data card measures
    caption lengths with."""
    source = assets.resolve(backbone) if backbone in assets.ASSETS else backbone
    try:
        return _tokenizer(str(source))
    except OSError as error:
        raise TomclipError(
            f"Cannot load the tokenizer of the student backbone {backbone!r}: {str(error).rstrip('.')}. "
            f"Offline, use an asset identity ({', '.join(assets.ASSETS)}) or a local folder."
        ) from None


def _load_backbone(name: str):
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    source = assets.resolve(name) if name in assets.ASSETS else name
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        model = AutoModel.from_pretrained(source, add_pooling_layer=False)
        tokenizer = _tokenizer(str(source))
    except OSError as error:
        raise TomclipError(
            f"Cannot load the student backbone {name!r}: {error}. Offline, use an asset "
            f"identity ({', '.join(assets.ASSETS)}) or a local folder."
        ) from None
    return model, tokenizer


@functools.cache
def _shared_frozen_backbone(name: str):
    """One frozen copy of a backbone per process, shared by every student that does not train it
    (or trains only copies of its top layers)."""
    if name in assets.ASSETS:
        return load_encoder(name)
    model, tokenizer = _load_backbone(name)
    model.eval().requires_grad_(False)
    return model, tokenizer


#: Changes whenever cached token states could differ for the same text (their disk key includes it).
TOKEN_STATES_VERSION = 1
#: Rows of every batch of the frozen layers in `Student.cached_inputs` (a fixed count: see encoding.encode).
TOKEN_STATES_BATCH = 16
#: Texts per chunk of the trainable top layers (Student._top_pooled): bigger batches run in chunks.
TOP_CHUNK_ROWS = 64


def encoder_layers(backbone) -> nn.ModuleList:
    layers = getattr(getattr(backbone, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise TomclipError(
            f"Training the top layers needs a BERT-like backbone (encoder.layer); "
            f"{type(backbone).__name__} has none. Use trainable_layers=0 or 'all'."
        )
    return layers


def _layer_mask(config, hidden: torch.Tensor, attention_mask: torch.Tensor):
    """The (B, T) 0/1 mask in the form the backbone's layers take: what the model's own forward
    builds for its attention implementation (None where nothing is padded, under SDPA)."""
    from transformers.masking_utils import create_bidirectional_mask

    return create_bidirectional_mask(config=config, inputs_embeds=hidden, attention_mask=attention_mask)


def _lower_states(backbone, input_ids: torch.Tensor, attention_mask: torch.Tensor, layers: int) -> torch.Tensor:
    """The embeddings and the first `layers` layers of the frozen backbone: (B, T, H)."""
    hidden = backbone.embeddings(input_ids=input_ids)
    mask = _layer_mask(backbone.config, hidden, attention_mask)
    for layer in encoder_layers(backbone)[:layers]:
        hidden = layer(hidden, mask)
    return hidden


class _evaluating:
    """Runs a block with `module` in eval mode, then gives it back its mode."""

    def __init__(self, module: nn.Module):
        self.module = module

    def __enter__(self):
        self.was_training = self.module.training
        self.module.eval()

    def __exit__(self, *exc):
        self.module.train(self.was_training)


def _compute_token_states(
    backbone, tokenizer, texts: list[str], layers: int, max_length: int, batch_size: int = TOKEN_STATES_BATCH
) -> CachedTokenStates:
    """The states after `layers` frozen layers of `texts` (prefix included), padding-free.

    As in encoding.encode, a text's numbers do not depend on the texts computed with it: every
    batch holds texts of one token length (no padding) and exactly `batch_size` rows (filled up
    with copies of its first text).
    """
    width = backbone.config.hidden_size
    if not texts:
        return CachedTokenStates(torch.zeros(0, width), torch.zeros(1, dtype=torch.int64))
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    by_length: dict[int, list[int]] = {}
    for i, row in enumerate(ids):
        by_length.setdefault(len(row), []).append(i)
    batches = [
        rows[start : start + batch_size]
        for _, rows in sorted(by_length.items())
        for start in range(0, len(rows), batch_size)
    ]
    device = next(backbone.parameters()).device
    pieces: list[torch.Tensor] = [torch.empty(0)] * len(texts)
    with torch.inference_mode(), _evaluating(backbone):
        for rows in batches:
            filled = torch.tensor([ids[i] for i in rows] + [ids[rows[0]]] * (batch_size - len(rows)), device=device)
            hidden = _lower_states(backbone, filled, torch.ones_like(filled), layers).float().cpu()
            for j, i in enumerate(rows):
                pieces[i] = hidden[j]
    lengths = torch.tensor([len(row) for row in ids], dtype=torch.int64)
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64), lengths.cumsum(0)])
    return CachedTokenStates(torch.cat(pieces), offsets)  # outside inference mode: ordinary tensors


_TOKEN_STORES: dict[str, tuple[int, dict[str, int], torch.Tensor, torch.Tensor]] = {}


def _token_store_path(identity: str, layers: int, max_length: int, batch_size: int):
    prefix = PREFIXES.get(identity, "")
    key = "|".join(
        map(
            str,
            [
                _fingerprint(identity),
                prefix,
                ENCODING_VERSION,
                TOKEN_STATES_VERSION,
                layers,
                max_length,
                batch_size,
                numerics.signature(),
            ],
        )
    )
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return paths.cache_dir() / "token-states" / f"{identity.replace('/', '--')}-layer{layers}-{digest}.npz"


def _read_token_store(path, width: int) -> tuple[dict[str, int], torch.Tensor, torch.Tensor]:
    """The texts and states already computed, memoised per process while the file is unchanged."""
    if not path.exists():
        return {}, torch.zeros(0, width), torch.zeros(1, dtype=torch.int64)
    stamp = path.stat().st_mtime_ns
    cached = _TOKEN_STORES.get(str(path))
    if cached is None or cached[0] != stamp:
        with np.load(path, allow_pickle=False) as store:
            texts = store["texts"].tolist()
            states, offsets = torch.from_numpy(store["states"]), torch.from_numpy(store["offsets"])
        cached = (stamp, {text: i for i, text in enumerate(texts)}, states, offsets)
        _TOKEN_STORES[str(path)] = cached
    return cached[1], cached[2], cached[3]


def _stored_token_states(
    identity: str,
    backbone,
    tokenizer,
    texts: list[str],
    layers: int,
    max_length: int,
    batch_size: int = TOKEN_STATES_BATCH,
) -> CachedTokenStates:
    """`_compute_token_states` through a store per (asset, layer, settings) in $TOMCLIP_CACHE/token-states/,
    as models.text.text_features keeps pooled features: only new texts are computed, the store is
    rewritten atomically, and its key covers the model's files, the prefix and the numeric environment."""
    path = _token_store_path(identity, layers, max_length, batch_size)
    index, states, offsets = _read_token_store(path, backbone.config.hidden_size)
    missing = [t for t in dict.fromkeys(texts) if t not in index]
    if missing:
        prefix = PREFIXES.get(identity, "")
        new = _compute_token_states(backbone, tokenizer, [prefix + t for t in missing], layers, max_length, batch_size)
        all_texts = list(index) + missing
        states = torch.cat([states, new.states])
        offsets = torch.cat([offsets, offsets[-1] + new.offsets[1:]])
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, texts=np.array(all_texts), states=states.numpy(), offsets=offsets.numpy())
        index = {text: i for i, text in enumerate(all_texts)}
        _TOKEN_STORES[str(path)] = (path.stat().st_mtime_ns, index, states, offsets)
    return _gather(states, offsets, torch.tensor([index[t] for t in texts], dtype=torch.int64))


#: The arithmetic of trained top layers, part of their runs' cache keys (1: as the backbone's; 2: _thread_stable).
TOP_LAYERS_VERSION = 2


class ThreadStableLayerNorm(nn.Module):
    """LayerNorm whose weight and bias gradients have the same bits for any thread count.

    PyTorch's fused LayerNorm backward sums the (tokens, width) products for gamma and beta in
    chunks of rows, one per thread, so 1 and 2 threads round differently and a trained layer's
    weights drift apart. Normalising without the affine part and applying it as a broadcast
    product moves that sum to a reduction over the leading dimensions, which PyTorch splits by
    output column instead (one thread sums each column whole; tests/test_student_top_layers.py
    checks the bits on 1 and 2 threads). Forward values agree with
    nn.LayerNorm to float rounding (~1e-6); the parameters keep their names, so checkpoints match.
    """

    def __init__(self, layer_norm: nn.LayerNorm):
        super().__init__()
        self.normalized_shape, self.eps = tuple(layer_norm.normalized_shape), layer_norm.eps
        self.weight = nn.Parameter(layer_norm.weight.detach().clone())
        self.bias = nn.Parameter(layer_norm.bias.detach().clone())

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(hidden, self.normalized_shape, None, None, self.eps) * self.weight + self.bias


def _thread_stable(layer: nn.Module) -> nn.Module:
    """A trainable copy of a backbone layer whose training has the same bits on any thread count:
    its LayerNorms become ThreadStableLayerNorm, and its attention dropout is off (hidden dropout
    stays). With attention dropout on, PyTorch's attention leaves its fused kernel for the math
    path, whose softmax backward rounds short rows (a caption's ~20 tokens) differently on 1 and
    2 threads; the fused kernel's gradients do not depend on the thread count."""
    for name, module in list(layer.named_modules()):
        for child_name, child in module.named_children():
            if isinstance(child, nn.LayerNorm) and child.elementwise_affine and child.bias is not None:
                setattr(module, child_name, ThreadStableLayerNorm(child))
        if name.endswith("attention.self") and isinstance(getattr(module, "dropout", None), nn.Dropout):
            module.dropout.p = 0.0
    return layer


class _TopLayers(nn.Module):
    """A student's own copies of the backbone's top layers, under the names they have in the backbone
    (encoder.layer.<index>), so checkpoints read as those of a student that holds the whole backbone.
    They are made thread-stable (_thread_stable): the runs that train them give the same bits on 1
    and 2 threads (tests/numeric_guard.py retrains them to check)."""

    def __init__(self, layers: Sequence[nn.Module], first: int):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleDict(
            {str(first + i): _thread_stable(copy.deepcopy(layer)) for i, layer in enumerate(layers)}
        )

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor, config) -> torch.Tensor:
        mask = _layer_mask(config, hidden, attention_mask)
        for layer in self.encoder.layer.values():
            hidden = layer(hidden, mask)
        return hidden


class Student(nn.Module):
    """Backbone -> mean pooling -> head. Call it on texts, on cached pooled features (frozen
    backbone) or on `CachedTokenStates.select(rows)` (top k layers training).

    A frozen backbone is not part of the module (it is shared, and its features are cached), so
    a frozen student's state is its head alone and building one costs milliseconds. With the top k
    layers training, the embeddings and lower layers are shared and frozen the same way, and the
    module holds a fresh copy of the top k layers (as `backbone.encoder.layer.<i>`) and the head.
    """

    def __init__(self, config: StudentConfig, backbone=None, tokenizer=None, seed: int = 0):
        super().__init__()
        self.config = config
        whole, loaded = config.trainable_layers == "all", backbone is None
        if loaded:
            backbone, tokenizer = (_load_backbone if whole else _shared_frozen_backbone)(config.backbone)
        self._top_k = 0  # > 0: the student trains copies of the backbone's top k layers
        self._stores_states = False  # True: the frozen layers' token states are kept on disk
        if config.frozen:
            backbone.requires_grad_(False)
            self._frozen = (backbone, tokenizer)  # a tuple: not registered as a submodule
        elif whole:
            self.backbone, self.tokenizer = backbone, tokenizer
            backbone.requires_grad_(True)
        else:
            layers = encoder_layers(backbone)
            k = config.trainable_layers
            if k > len(layers):
                raise TomclipError(f"trainable_layers={k}, but the backbone has {len(layers)} layers.")
            backbone.requires_grad_(False)
            self._frozen = (backbone, tokenizer)  # embeddings and lower layers: shared, not a submodule
            self._top_k, self._layers = k, len(layers)
            # Token states on disk stand for the asset itself, not for a backbone passed in under its name.
            self._stores_states = loaded and config.backbone in assets.ASSETS
            self.backbone = _TopLayers(layers[len(layers) - k :], len(layers) - k).requires_grad_(True)
            self.backbone.train(self.training)
        width = backbone.config.hidden_size
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        if config.head_hidden is None:
            self.head = nn.Linear(width, config.out_dim)
        else:
            self.head = nn.Sequential(
                nn.Linear(width, config.head_hidden), nn.GELU(), nn.Linear(config.head_hidden, config.out_dim)
            )
        torch.random.set_rng_state(generator_state)

    def _tokenize(self, texts: list[str], tokenizer):
        return tokenizer(
            [self.config.prefix + t for t in texts],
            padding=True,
            truncation=True,
            max_length=self.config.max_length,
            return_tensors="pt",
        )

    def _top_pooled(self, batch: TokenBatch) -> torch.Tensor:
        """The student's top layers and mean pooling on the states that enter them.

        A big batch runs in chunks of TOP_CHUNK_ROWS texts of similar length (rows sorted by token
        count, each chunk cut to its longest text): a batch of short captions padded to its one
        long caption would otherwise spend most of a step on padding.
        """
        device = next(self.head.parameters()).device
        hidden, mask = batch[0].to(device), batch[1].to(device)
        config = self._frozen[0].config
        if len(hidden) <= TOP_CHUNK_ROWS:
            return mean_pool(self.backbone(hidden, mask, config), mask)
        lengths = mask.sum(1)
        order = torch.sort(lengths, stable=True).indices
        pooled = []
        for rows in order.split(TOP_CHUNK_ROWS):
            width = int(lengths[rows].max())
            chunk_mask = mask[rows, :width]
            pooled.append(mean_pool(self.backbone(hidden[rows, :width], chunk_mask, config), chunk_mask))
        return torch.cat(pooled)[torch.argsort(order)]

    def pooled(self, texts: list[str]) -> torch.Tensor:
        """Mean-pooled backbone features of `texts` (with gradient where the backbone trains)."""
        if self.config.frozen:
            return self.cached_features(texts).to(next(self.head.parameters()).device)
        if self._top_k:  # the shared frozen part on its own device, then this student's layers
            backbone, tokenizer = self._frozen
            batch = self._tokenize(texts, tokenizer).to(next(backbone.parameters()).device)
            with torch.no_grad(), _evaluating(backbone):
                hidden = _lower_states(
                    backbone, batch["input_ids"], batch["attention_mask"], self._layers - self._top_k
                )
            return self._top_pooled(TokenBatch(hidden, batch["attention_mask"]))
        device = next(self.parameters()).device
        batch = self._tokenize(texts, self.tokenizer).to(device)
        hidden = self.backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        return mean_pool(hidden, batch["attention_mask"])

    def forward(self, inputs: torch.Tensor | TokenBatch | list[str]) -> torch.Tensor:
        """Student embeddings (unnormalised, as the point-wise loss wants them) of texts, of cached
        pooled features (frozen backbone) or of (hidden, attention_mask) token states from
        `CachedTokenStates.select` (top layers training)."""
        if isinstance(inputs, torch.Tensor):
            if not self.config.frozen:
                raise TomclipError(
                    "Cached features only serve a frozen backbone; pass texts (or, with the top "
                    "layers training, CachedTokenStates.select(rows)) when it trains."
                )
            return self.head(inputs)
        if isinstance(inputs, tuple) and len(inputs) == 2 and all(isinstance(x, torch.Tensor) for x in inputs):
            self._check_cached_path()
            return self.head(self._top_pooled(TokenBatch(*inputs)))
        return self.head(self.pooled(list(inputs)))

    def _check_cached_path(self) -> None:
        k = self.config.trainable_layers
        if not self._top_k or self._top_k >= self._layers:
            layers = f" of its {self._layers}" if self._top_k else ""
            raise TomclipError(
                f"Cached token states need some but not all backbone layers training "
                f"(0 < trainable_layers < the number of layers), but this student trains {k!r}{layers}; "
                f"pass texts instead."
            )

    def cached_inputs(self, texts: Sequence[str]) -> CachedTokenStates:
        """The token states that enter the first trainable layer, per text, computed once (no
        gradient, eval mode): what `forward` takes as `.select(rows)` in place of the texts. For an
        asset backbone they are kept in $TOMCLIP_CACHE/token-states/ (only new texts are computed)."""
        self._check_cached_path()
        if isinstance(texts, str):
            raise TomclipError("cached_inputs() takes a sequence of texts, not a single string; wrap it in a list.")
        backbone, tokenizer = self._frozen
        texts, layers = list(texts), self._layers - self._top_k
        if self._stores_states:
            return _stored_token_states(
                self.config.backbone, backbone, tokenizer, texts, layers, self.config.max_length
            )
        return _compute_token_states(
            backbone, tokenizer, [self.config.prefix + t for t in texts], layers, self.config.max_length
        )

    def cached_features(self, texts: list[str]) -> torch.Tensor:
        """Pooled features of a frozen backbone: from the on-disk cache for assets (computed once)."""
        if not self.config.frozen:
            raise TomclipError("Features can only be cached when the backbone is frozen (trainable_layers=0).")
        if self.config.backbone in assets.ASSETS:
            return torch.from_numpy(text_features(self.config.backbone, list(texts), normalize=False))
        backbone, tokenizer = self._frozen
        return encode(backbone, tokenizer, list(texts), prefix=self.config.prefix, normalize=False).cpu()

    @torch.inference_mode()
    def encode(self, texts: list[str], batch_size: int = 256, normalize: bool = True) -> np.ndarray:
        """L2-normalised student embeddings of `texts` (numpy), as used for evaluation; with
        normalize=False the head's raw outputs, as the training loss compares them with its targets."""
        was_training = self.training
        self.eval()
        try:
            if self.config.frozen:  # one cached lookup for all texts
                outputs = self.head(self.cached_features(list(texts)).to(next(self.head.parameters()).device))
            elif self._stores_states and 0 < self._top_k < self._layers:
                # The frozen layers' token states from the store: every run of a grid evaluates the same
                # texts, so the lower layers run once for all of them (equal to the full path to ~1e-7).
                states = self.cached_inputs(list(texts))
                outputs = torch.cat(
                    [
                        self(states.select(torch.arange(i, min(i + batch_size, len(texts)))))
                        for i in range(0, len(texts), batch_size)
                    ]
                )
            else:
                outputs = torch.cat([self(list(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)])
        finally:
            self.train(was_training)
        outputs = outputs.float()
        return (torch.nn.functional.normalize(outputs, dim=1) if normalize else outputs).cpu().numpy()

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """The parameters that training changes (the head, and the backbone layers that train)."""
        return {name: p.detach().clone() for name, p in self.named_parameters() if p.requires_grad}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        parameters = dict(self.named_parameters())
        unknown = sorted(set(state) - set(parameters))
        if unknown:
            raise TomclipError(f"The checkpoint has parameters this student lacks: {unknown[:3]}...")
        with torch.no_grad():
            for name, value in state.items():
                parameters[name].copy_(value)
