"""The student: a Hugging Face text encoder + attention-masked mean pooling + a head to the teacher.

Which backbone layers train is configurable: none (the embedded default: the backbone's pooled
features are computed once per caption and cached, a step costs milliseconds), the top k, or all
(the paper: xlm-roberta-large, fully fine-tuned). The head is the paper's Linear layer, or a
two-layer MLP when the backbone is frozen and a linear map would be all the student could learn.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import assets
from ..encoding import encode, mean_pool
from ..errors import TomclipError
from .text import PREFIXES, STUDENT_BACKBONE, load_encoder, text_features


@dataclass(frozen=True)
class StudentConfig:
    backbone: str = STUDENT_BACKBONE  # an asset identity, a Hugging Face id or a local folder
    out_dim: int = 384  # the teacher's embedding size
    head_hidden: int | None = 1024  # None: one Linear layer, as the paper
    trainable_layers: int | str = 0  # 0 (frozen, cached features), k top layers, or "all"
    max_length: int = 77

    def __post_init__(self):
        if not (self.trainable_layers == "all" or (isinstance(self.trainable_layers, int) and self.trainable_layers >= 0)):
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
        raise TomclipError(f"Cannot load the student backbone {name!r}: {error}. Offline, use an asset "
                           f"identity ({', '.join(assets.ASSETS)}) or a local folder.") from None
    return model, tokenizer


@functools.cache
def _shared_frozen_backbone(name: str):
    """One frozen copy of a backbone per process, shared by every student that does not train it."""
    if name in assets.ASSETS:
        return load_encoder(name)
    model, tokenizer = _load_backbone(name)
    model.eval().requires_grad_(False)
    return model, tokenizer


class Student(nn.Module):
    """Backbone -> mean pooling -> head. Call it on texts, or on cached pooled features.

    A frozen backbone is not part of the module (it is shared, and its features are cached), so
    a frozen student's state is its head alone and building one costs milliseconds.
    """

    def __init__(self, config: StudentConfig, backbone=None, tokenizer=None, seed: int = 0):
        super().__init__()
        self.config = config
        if backbone is None:
            backbone, tokenizer = (_shared_frozen_backbone if config.frozen else _load_backbone)(config.backbone)
        if config.frozen:
            backbone.requires_grad_(False)
            self._frozen = (backbone, tokenizer)  # a tuple: not registered as a submodule
        else:
            self.backbone, self.tokenizer = backbone, tokenizer
            self._freeze(config.trainable_layers)
        width = backbone.config.hidden_size
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        if config.head_hidden is None:
            self.head = nn.Linear(width, config.out_dim)
        else:
            self.head = nn.Sequential(nn.Linear(width, config.head_hidden), nn.GELU(),
                                      nn.Linear(config.head_hidden, config.out_dim))
        torch.random.set_rng_state(generator_state)

    def _freeze(self, trainable_layers: int | str) -> None:
        for parameter in self.backbone.parameters():
            parameter.requires_grad_(trainable_layers == "all")
        if isinstance(trainable_layers, int) and trainable_layers > 0:
            layers = self.backbone.encoder.layer
            if trainable_layers > len(layers):
                raise TomclipError(f"trainable_layers={trainable_layers}, but the backbone has {len(layers)} layers.")
            for layer in layers[-trainable_layers:]:
                layer.requires_grad_(True)

    def pooled(self, texts: list[str]) -> torch.Tensor:
        """Mean-pooled backbone features of `texts` (with gradient where the backbone trains)."""
        if self.config.frozen:
            return self.cached_features(texts).to(next(self.head.parameters()).device)
        device = next(self.parameters()).device
        batch = self.tokenizer([self.config.prefix + t for t in texts], padding=True, truncation=True,
                               max_length=self.config.max_length, return_tensors="pt").to(device)
        hidden = self.backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        return mean_pool(hidden, batch["attention_mask"])

    def forward(self, inputs: torch.Tensor | list[str]) -> torch.Tensor:
        """Student embeddings (unnormalised, as the point-wise loss wants them)."""
        if isinstance(inputs, torch.Tensor):
            if not self.config.frozen:
                raise TomclipError("Cached features only serve a frozen backbone; pass texts when it trains.")
            return self.head(inputs)
        return self.head(self.pooled(list(inputs)))

    def cached_features(self, texts: list[str]) -> torch.Tensor:
        """Pooled features of a frozen backbone: from the on-disk cache for assets (computed once)."""
        if not self.config.frozen:
            raise TomclipError("Features can only be cached when the backbone is frozen (trainable_layers=0).")
        if self.config.backbone in assets.ASSETS:
            return torch.from_numpy(text_features(self.config.backbone, list(texts), normalize=False))
        backbone, tokenizer = self._frozen
        return encode(backbone, tokenizer, list(texts), prefix=self.config.prefix, normalize=False).cpu()

    @torch.inference_mode()
    def encode(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        """L2-normalised student embeddings of `texts` (numpy), as used for evaluation."""
        was_training = self.training
        self.eval()
        try:
            if self.config.frozen:  # one cached lookup for all texts
                outputs = self.head(self.cached_features(list(texts)).to(next(self.head.parameters()).device))
            else:
                outputs = torch.cat([self(list(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)])
        finally:
            self.train(was_training)
        return torch.nn.functional.normalize(outputs.float(), dim=1).cpu().numpy()

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
