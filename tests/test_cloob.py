"""CLOOB's objective (tomclip_lib/models/cloob.py) on cases small enough to compute by hand, and the
teacher's choice of objective."""

import hashlib
import json
import math
import warnings
from dataclasses import asdict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss

from tomclip_lib.data import embedded
from tomclip_lib.errors import TomclipError
from tomclip_lib.models import cloob
from tomclip_lib.models import teacher as teacher_lib

LN2, LN3 = math.log(2), math.log(3)


def unit_rows(seed: int, n: int, d: int, dtype=torch.float32) -> torch.Tensor:
    return F.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=dtype), dim=1)


# --- InfoLOOB ---------------------------------------------------------------------------------


def test_infoloob_on_a_2x2_case_by_hand():
    # logits = 10 * [[0.9, 0.2], [0.1, 0.8]] = [[9, 2], [1, 8]]. With the positive left out, each
    # row's denominator is its one negative: row 0: -9 + log(e^2) = -7; row 1: -8 + log(e^1) = -7.
    # Mean: -7 (InfoLOOB is negative once positives beat negatives; InfoNCE never is).
    similarity = torch.tensor([[0.9, 0.2], [0.1, 0.8]], dtype=torch.float64, requires_grad=True)
    loss = cloob.info_loob(10.0 * similarity)
    assert loss.item() == pytest.approx(-7.0, abs=1e-12)
    # It is linear here: L = (10/2) * (-s00 + s01 - s11 + s10), so dL/ds = 5 * [[-1, 1], [1, -1]].
    loss.backward()
    assert torch.allclose(similarity.grad, torch.tensor([[-5.0, 5.0], [5.0, -5.0]], dtype=torch.float64))


def test_infoloob_on_a_3x3_case_by_hand():
    # Inverse temperature 1; entries chosen as logs so the sums are whole numbers:
    #   row 0: [2, 0, ln 3]       -2 + ln(e^0 + e^ln3) = -2 + ln 4
    #   row 1: [ln 2, 1, ln 2]    -1 + ln(2 + 2)       = -1 + ln 4
    #   row 2: [0, 0, 0]           0 + ln(1 + 1)       =  ln 2
    # Mean: (-3 + 2 ln 4 + ln 2) / 3 = (-3 + 5 ln 2) / 3.
    similarity = torch.tensor([[2.0, 0.0, LN3], [LN2, 1.0, LN2], [0.0, 0.0, 0.0]], dtype=torch.float64)
    similarity.requires_grad_(True)
    loss = cloob.info_loob(similarity)
    assert loss.item() == pytest.approx((-3 + 5 * LN2) / 3, abs=1e-12)
    # Hand derivative: dL/ds_ii = -1/3; dL/ds_ij = (1/3) * softmax over the negatives j != i of row i:
    # row 0: e^0/4 = 1/4, e^ln3/4 = 3/4; row 1: 2/4, 2/4; row 2: 1/2, 1/2.
    expected = torch.tensor([[-1, 1 / 4, 3 / 4], [1 / 2, -1, 1 / 2], [1 / 2, 1 / 2, -1]], dtype=torch.float64) / 3
    loss.backward()
    assert torch.allclose(similarity.grad, expected, atol=1e-12)


def test_infoloob_with_one_positive_per_row_equals_its_definition():
    tau = 1 / 30
    similarity = unit_rows(0, 6, 5, torch.float64) @ unit_rows(1, 6, 5, torch.float64).T
    s = similarity.tolist()
    by_definition = (
        sum(
            -math.log(math.exp(s[i][i] / tau) / sum(math.exp(s[i][j] / tau) for j in range(6) if j != i))
            for i in range(6)
        )
        / 6
    )
    assert cloob.info_loob(similarity / tau).item() == pytest.approx(by_definition, rel=1e-12)


def test_infoloob_gradient_matches_finite_differences():
    logits = (4.0 * torch.randn(5, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(cloob.info_loob, (logits,))


# --- The Hopfield step ------------------------------------------------------------------------


def test_hopfield_retrieval_by_hand():
    # Stored patterns e1 and e2, beta = ln 3. State e1: scores beta * [1, 0] = [ln 3, 0], softmax
    # [3/4, 1/4], retrieved 3/4 e1 + 1/4 e2 = [3, 1] / 4, re-normalised [3, 1] / sqrt(10).
    stored = torch.eye(2, dtype=torch.float64)
    retrieved = cloob.hopfield_retrieval(torch.eye(2, dtype=torch.float64), stored, LN3)
    expected = torch.tensor([[3.0, 1.0], [1.0, 3.0]], dtype=torch.float64) / math.sqrt(10)
    assert torch.allclose(retrieved, expected, atol=1e-12)


def test_hopfield_retrieval_by_hand_with_patterns_that_overlap():
    # Stored [1, 0] and [0.6, 0.8]; state [1, 0] scores 1 and 0.6. With beta = ln 2 / 0.4 their
    # difference is ln 2, so softmax [2/3, 1/3]: 2/3 [1, 0] + 1/3 [0.6, 0.8] = [13, 4] / 15,
    # re-normalised [13, 4] / sqrt(185).
    stored = torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=torch.float64)
    retrieved = cloob.hopfield_retrieval(torch.tensor([[1.0, 0.0]], dtype=torch.float64), stored, LN2 / 0.4)
    assert torch.allclose(retrieved, torch.tensor([[13.0, 4.0]], dtype=torch.float64) / math.sqrt(185), atol=1e-12)


def test_hopfield_retrieval_at_its_limits():
    stored, state = unit_rows(3, 5, 4, torch.float64), unit_rows(4, 3, 4, torch.float64)
    # beta = 0: every state retrieves the (normalised) mean of the stored patterns.
    mean = F.normalize(stored.mean(dim=0, keepdim=True), dim=1)
    assert torch.allclose(cloob.hopfield_retrieval(state, stored, 0.0), mean.expand(3, 4), atol=1e-12)
    # A large beta: the stored pattern nearest each state.
    nearest = stored[(state @ stored.T).argmax(dim=1)]
    assert torch.allclose(cloob.hopfield_retrieval(state, stored, 1e4), nearest, atol=1e-6)


# --- The four objectives as one loss ----------------------------------------------------------


def test_infonce_without_hopfield_is_open_clips_clip_loss():
    image, text = unit_rows(5, 32, 16).requires_grad_(), unit_rows(6, 32, 16).requires_grad_()
    scale = torch.tensor(14.3)
    ours = cloob.ContrastiveLoss("infonce")(image, text, scale)
    theirs = ClipLoss()(image, text, scale)
    assert torch.equal(ours, theirs)  # the same operations in the same order: the same bits
    ours_grads = torch.autograd.grad(ours, (image, text))
    theirs_grads = torch.autograd.grad(theirs, (image, text))
    assert all(torch.allclose(a, b, atol=1e-7) for a, b in zip(ours_grads, theirs_grads))


def test_cloob_objective_equals_its_equations():
    # CLOOB: images and texts retrieved from the stored images (U) score the image-anchored term,
    # images and texts retrieved from the stored texts (V) the text-anchored one; InfoLOOB on each,
    # written out with numpy, averaged over the two terms.
    image, text = unit_rows(7, 6, 4, torch.float64), unit_rows(8, 6, 4, torch.float64)
    beta, inverse_tau = cloob.HOPFIELD_BETA, cloob.INFOLOOB_INVERSE_TEMPERATURE

    def retrieve(state, stored):
        scores = beta * state @ stored.T
        weights = np.exp(scores - scores.max(axis=1, keepdims=True))
        out = (weights / weights.sum(axis=1, keepdims=True)) @ stored
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def loob(anchors, candidates):
        logits = inverse_tau * anchors @ candidates.T
        return np.mean([-logits[i, i] + np.log(np.exp(np.delete(logits[i], i)).sum()) for i in range(len(logits))])

    x, y = image.numpy(), text.numpy()
    expected = (loob(retrieve(x, x), retrieve(y, x)) + loob(retrieve(y, y), retrieve(x, y))) / 2
    loss = cloob.ContrastiveLoss("infoloob+hopfield")(image, text, inverse_tau)
    assert loss.item() == pytest.approx(expected, rel=1e-10)


def test_infoloob_without_hopfield_is_the_mean_of_its_two_directions():
    image, text = unit_rows(9, 5, 3, torch.float64), unit_rows(10, 5, 3, torch.float64)
    loss = cloob.ContrastiveLoss("infoloob")(image, text, 30.0)
    by_hand = (cloob.info_loob(30.0 * image @ text.T) + cloob.info_loob(30.0 * text @ image.T)) / 2
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-12)


@pytest.mark.parametrize("objective", cloob.OBJECTIVES)
def test_each_objective_has_the_gradient_autograd_checks(objective):
    loss_fn = cloob.ContrastiveLoss(objective)
    image = torch.randn(4, 3, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    text = torch.randn(4, 3, generator=torch.Generator().manual_seed(12), dtype=torch.float64)

    def loss(image, text):  # the towers' normalisation inside, as the teacher's training has it
        return loss_fn(F.normalize(image, dim=1), F.normalize(text, dim=1), 5.0)

    assert torch.autograd.gradcheck(loss, (image.requires_grad_(), text.requires_grad_()))


def test_a_learnt_temperature_gets_its_gradient_quietly():
    # The teacher passes exp(logit_scale) with its graph: checking it must neither warn nor cut the graph.
    logit_scale = torch.tensor(math.log(14.3), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cloob.ContrastiveLoss("infonce+hopfield")(
            unit_rows(13, 8, 4), unit_rows(14, 8, 4), logit_scale.exp()
        ).backward()
    assert logit_scale.grad is not None and torch.isfinite(logit_scale.grad)


def test_only_infonce_learns_its_temperature():
    assert [cloob.learns_temperature(name) for name in cloob.OBJECTIVES] == [True, False, True, False]


# --- Bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "text", "scale", "message"),
    [
        (torch.zeros(4, 3), torch.zeros(5, 3), 30.0, r"one shape.*image \(4, 3\), text \(5, 3\)"),
        (torch.zeros(4), torch.zeros(4), 30.0, "one shape"),
        (torch.tensor([[float("nan"), 0.0], [0.0, 1.0]]), torch.eye(2), 30.0, "image features hold non-finite"),
        (torch.eye(2), torch.tensor([[1.0, 0.0], [float("inf"), 0.0]]), 30.0, "text features hold non-finite"),
        (torch.eye(2), torch.eye(2), -1.0, "logit_scale must be one positive finite number"),
        (torch.eye(2), torch.eye(2), float("nan"), "logit_scale must be one positive finite number"),
        (torch.eye(2), torch.eye(2), torch.ones(2), "logit_scale must be one positive finite number"),
        (torch.ones(1, 2), torch.ones(1, 2), 30.0, "InfoLOOB needs at least 2 pairs"),
    ],
)
def test_bad_input_is_named(image, text, scale, message):
    with pytest.raises(TomclipError, match=message):
        cloob.ContrastiveLoss("infoloob+hopfield")(image, text, scale)


def test_bad_settings_are_named():
    with pytest.raises(TomclipError, match="'cloob' is not one of the teacher's objectives: infonce, infoloob"):
        cloob.ContrastiveLoss("cloob")
    with pytest.raises(TomclipError, match="hopfield_beta must be a positive number"):
        cloob.ContrastiveLoss(hopfield_beta=0.0)
    with pytest.raises(TomclipError, match=r"rows of one width.*\(2, 3\) and \(2, 4\)"):
        cloob.hopfield_retrieval(torch.zeros(2, 3), torch.zeros(2, 4), 1.0)
    with pytest.raises(TomclipError, match=r"square matrix.*\(2, 3\)"):
        cloob.info_loob(torch.zeros(2, 3))
    with pytest.raises(TomclipError, match="is not one of the teacher's objectives"):
        teacher_lib.TeacherConfig(objective="InfoLOOB")


# --- The teacher's option ---------------------------------------------------------------------


def test_the_default_objective_keeps_every_existing_teacher_key():
    def key_before_the_objective(config):  # TeacherConfig.key as it was before the option existed
        fields = {k: v for k, v in asdict(config).items() if k != "objective"}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]

    for config in (
        teacher_lib.TeacherConfig(),
        teacher_lib.TeacherConfig(toma_weight=0.1, caption_fraction=0.1, seed=3),
        teacher_lib.TeacherConfig(epochs=1, fashion_per_epoch=512, width=8),
    ):
        assert config.key() == key_before_the_objective(config)
    keys = {teacher_lib.TeacherConfig(objective=name).key() for name in cloob.OBJECTIVES}
    assert len(keys) == 4


def test_a_short_cloob_training_keeps_its_temperature_and_learns(small_corpus):
    training = embedded.teacher_training_set(small_corpus, 32, fashion_per_epoch=1024, emoji_repeats=0.5)
    config = teacher_lib.TeacherConfig(
        epochs=2, fashion_per_epoch=1024, emoji_repeats=0.5, objective="infoloob+hopfield"
    )
    teacher, history = teacher_lib.train_embedded_teacher(
        config, training.images, training.captions, training.weights, log=lambda m: None
    )
    assert [row["temperature"] for row in history] == pytest.approx([cloob.INFOLOOB_INVERSE_TEMPERATURE] * 2)
    assert not teacher.model.logit_scale.requires_grad
    assert history[1]["loss"] < history[0]["loss"]
