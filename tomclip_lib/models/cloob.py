"""CLOOB's objective beside CLIP's, for a teacher trained either way (issue 30).

"Topological Perspectives on Optimal Multimodal Embedding Spaces" (arXiv 2405.18867) compares a
space trained with CLIP's InfoNCE against one trained with CLOOB (Fürst et al., 2022, "CLOOB: Modern
Hopfield Networks with InfoLOOB Outperform CLIP", arXiv 2110.11316). CLOOB changes two things, and
`ContrastiveLoss` lets each be switched on alone, so a four-way ablation can tell them apart:

- the loss: InfoLOOB (leave one out) drops the positive pair from the denominator of InfoNCE, so a
  pair that is already far ahead of the negatives still gets a gradient (InfoNCE saturates there);
- the Hopfield step: before scoring, every embedding of the batch is replaced by what a modern
  Hopfield network retrieves for it from the batch's stored image embeddings (for the image-anchored
  term) or stored text embeddings (for the text-anchored term), then re-normalised.

Constants and where they come from (ml-jku/cloob, the authors' code, read at commit 357adda):

- `INFOLOOB_INVERSE_TEMPERATURE` = 30, fixed: the authors' README trains CLOOB on Conceptual Captions
  with `--init-inv-tau=30`, and their inverse temperature is not learnt unless asked
  (`--learnable-inv-tau` is off by default in src/training/params.py, whose default is 14.3).
  A fixed value is needed, not only inherited: InfoLOOB keeps falling as the inverse temperature
  grows once every positive beats its negatives, so a learnt one runs to its clamp.
- `HOPFIELD_BETA` = 14.3: the default of `--scale-hopfield` in src/training/params.py (the
  README's Conceptual Captions command passes 8; `ContrastiveLoss(hopfield_beta=...)` takes either).

InfoNCE keeps the caller's `logit_scale` (learnt, as CLIP learns it); InfoLOOB objectives are meant
to be given the fixed value (`learns_temperature` says which, and the teacher follows it). Scale:
each objective is the mean of its image-anchored and text-anchored terms, as open_clip's ClipLoss is;
the authors' code sums the two terms and multiplies by the temperature, a constant factor that
AdamW's updates do not see (up to its epsilon).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import TomclipError

#: The objectives a teacher can train with: the loss, and whether the Hopfield step comes first.
OBJECTIVES = ("infonce", "infoloob", "infonce+hopfield", "infoloob+hopfield")
#: CLIP's objective, the teacher's default (the results of every notebook were trained with it).
DEFAULT_OBJECTIVE = "infonce"
#: CLOOB's fixed inverse temperature 1/tau (module docstring: the authors' Conceptual Captions command).
INFOLOOB_INVERSE_TEMPERATURE = 30.0
#: The Hopfield step's inverse temperature beta (module docstring: the authors' code default).
HOPFIELD_BETA = 14.3
#: Bump when a change here moves the bits of a teacher trained with a non-default objective.
LOSS_VERSION = 1


def check_objective(objective: str) -> tuple[str, bool]:
    """The objective's loss ("infonce" or "infoloob") and whether it uses the Hopfield step."""
    if objective not in OBJECTIVES:
        raise TomclipError(f"objective={objective!r} is not one of the teacher's objectives: {', '.join(OBJECTIVES)}.")
    loss, _, hopfield = objective.partition("+")
    return loss, bool(hopfield)


def learns_temperature(objective: str) -> bool:
    """Whether training should learn the temperature (InfoNCE, as CLIP) or fix it (InfoLOOB, as CLOOB)."""
    return check_objective(objective)[0] == "infonce"


def _check_logits(logits: torch.Tensor, name: str, min_rows: int) -> None:
    if logits.ndim != 2 or logits.shape[0] != logits.shape[1]:
        raise TomclipError(f"{name} needs a square matrix of logits (anchors x candidates); got {tuple(logits.shape)}.")
    if logits.shape[0] < min_rows:
        raise TomclipError(
            f"{name} needs at least {min_rows} pairs in a batch (a positive and a negative); got {logits.shape[0]}."
        )


def info_nce(logits: torch.Tensor) -> torch.Tensor:
    """InfoNCE: mean over anchors i of -log(exp(l_ii) / sum_j exp(l_ij)), the positive on the diagonal.

    logits[i, j] = inverse temperature x similarity of anchor i and candidate j. Written with
    cross_entropy, as ClipLoss is, so that it gives ClipLoss's bits.
    """
    _check_logits(logits, "InfoNCE", 1)
    return F.cross_entropy(logits, torch.arange(len(logits), device=logits.device))


def info_loob(logits: torch.Tensor) -> torch.Tensor:
    """InfoLOOB: mean over anchors i of -log(exp(l_ii) / sum_{j != i} exp(l_ij)), the positive left out.

    Unlike InfoNCE it can be negative: it keeps rewarding a positive that already beats its negatives.
    """
    _check_logits(logits, "InfoLOOB", 2)
    left_out = torch.eye(len(logits), dtype=torch.bool, device=logits.device)
    negatives = torch.logsumexp(logits.masked_fill(left_out, -math.inf), dim=1)
    return (negatives - logits.diagonal()).mean()


def hopfield_retrieval(state_patterns: torch.Tensor, stored_patterns: torch.Tensor, beta: float) -> torch.Tensor:
    """One update of a modern Hopfield network, re-normalised: row i is
    normalise(sum_k softmax_k(beta * <state_i, stored_k>) * stored_k).

    Each embedding becomes an average of the stored embeddings it resembles, which is how CLOOB
    strengthens the features that co-occur in a batch.
    """
    if state_patterns.ndim != 2 or stored_patterns.ndim != 2 or state_patterns.shape[1] != stored_patterns.shape[1]:
        raise TomclipError(
            "The Hopfield step needs state and stored patterns as rows of one width; got "
            f"{tuple(state_patterns.shape)} and {tuple(stored_patterns.shape)}."
        )
    weights = torch.softmax(beta * state_patterns @ stored_patterns.T, dim=-1)
    return F.normalize(weights @ stored_patterns, dim=-1)


class ContrastiveLoss(torch.nn.Module):
    """One of the four objectives (`OBJECTIVES`), called as open_clip's ClipLoss is:
    loss(image_features, text_features, logit_scale), with L2-normalised, index-paired features and
    logit_scale the inverse temperature (a positive scalar).

    Without the Hopfield step, "infonce" is ClipLoss (tests/test_cloob.py checks it). With it, the
    image-anchored term scores images against texts both retrieved from the stored images, and the
    text-anchored term texts against images both retrieved from the stored texts.
    """

    def __init__(self, objective: str = "infoloob+hopfield", hopfield_beta: float = HOPFIELD_BETA):
        super().__init__()
        loss, self.hopfield = check_objective(objective)
        if not (math.isfinite(hopfield_beta) and hopfield_beta > 0):
            raise TomclipError(f"hopfield_beta must be a positive number; got {hopfield_beta}.")
        self.objective, self.hopfield_beta = objective, float(hopfield_beta)
        self.score = info_nce if loss == "infonce" else info_loob

    def extra_repr(self) -> str:
        return f"objective={self.objective!r}, hopfield_beta={self.hopfield_beta}"

    def forward(
        self, image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor | float
    ) -> torch.Tensor:
        _check_inputs(image_features, text_features, logit_scale)
        if self.hopfield:
            beta = self.hopfield_beta
            image_anchors = hopfield_retrieval(image_features, image_features, beta)
            text_candidates = hopfield_retrieval(text_features, image_features, beta)
            text_anchors = hopfield_retrieval(text_features, text_features, beta)
            image_candidates = hopfield_retrieval(image_features, text_features, beta)
        else:
            image_anchors, text_candidates = image_features, text_features
            text_anchors, image_candidates = text_features, image_features
        # The same order of operations as ClipLoss (scale, then product), for the same bits.
        logits_per_image = logit_scale * image_anchors @ text_candidates.T
        logits_per_text = logit_scale * text_anchors @ image_candidates.T
        return (self.score(logits_per_image) + self.score(logits_per_text)) / 2


def _check_inputs(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale) -> None:
    """Bad batches fail here, by name, instead of as a NaN loss many steps later."""
    if image_features.ndim != 2 or image_features.shape != text_features.shape:
        raise TomclipError(
            "The contrastive loss needs image and text features of one shape (batch x dimension), "
            f"row i of each a pair; got image {tuple(image_features.shape)}, text {tuple(text_features.shape)}."
        )
    for name, features in (("image", image_features), ("text", text_features)):
        if not bool(torch.isfinite(features).all()):
            raise TomclipError(f"The {name} features hold non-finite values (NaN or inf): check the tower's output.")
    scale = torch.as_tensor(logit_scale).detach()
    if scale.numel() != 1 or not (math.isfinite(float(scale)) and float(scale) > 0):
        raise TomclipError(
            f"logit_scale must be one positive finite number (the inverse temperature); got {scale.tolist()}."
        )
