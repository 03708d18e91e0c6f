"""Notebook 08's comparison of spaces (stages/spaces.py): intervals and verdict rules on cases whose
answer is known, the teachers' shared text tower, and the paper profile without a CLOOB checkpoint."""

import numpy as np
import pandas as pd
import pytest

from tomclip_lib.analysis import geometry
from tomclip_lib.data import embedded
from tomclip_lib.errors import TomclipError
from tomclip_lib.models import teacher as teacher_lib
from tomclip_lib.stages import spaces


def paired_circle(n: int, height: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors a_i = (c cos t_i, c sin t_i, h) and b_i = (c cos t_i, c sin t_i, -h), c^2 + h^2 = 1:
    a_i - b_i = (0, 0, 2h) for every item, so every resample's modality gap is exactly 2h."""
    angles = np.random.default_rng(seed).uniform(0, 2 * np.pi, n)
    c = np.sqrt(1 - height**2)
    ring = np.stack([c * np.cos(angles), c * np.sin(angles)], axis=1)
    return np.c_[ring, np.full(n, height)], np.c_[ring, np.full(n, -height)]


def test_the_gap_of_every_resample_is_known_and_so_is_the_paired_difference():
    counts = geometry.bootstrap_counts(50, resamples=200, seed=3)
    assert counts.shape == (200, 50) and (counts.sum(axis=1) == 50).all()
    clip_images, texts = paired_circle(50, 0.3)
    cloob_images, cloob_texts = paired_circle(50, 0.1)
    np.testing.assert_allclose(geometry.normalize(cloob_texts[:, :2]), geometry.normalize(texts[:, :2]))  # same items
    clip, cloob = geometry.gap_draws(clip_images, texts, counts), geometry.gap_draws(cloob_images, cloob_texts, counts)
    np.testing.assert_allclose(clip, 0.6)
    assert geometry.modality_gap(clip_images, texts) == pytest.approx(0.6)
    low, high = geometry.percentile_interval(cloob - clip)
    assert low == pytest.approx(-0.4) and high == pytest.approx(-0.4)
    assert spaces.verdict(low, high, 0.0, "below") == spaces.REPRODUCED


def test_a_percentile_interval_of_known_draws():
    assert geometry.percentile_interval(np.arange(1001.0), level=0.9) == pytest.approx((50.0, 950.0))
    assert np.isnan(geometry.percentile_interval([]) + geometry.percentile_interval([1.0, np.nan])).all()
    with pytest.raises(TomclipError, match="strictly between 0 and 1"):
        geometry.percentile_interval([1.0], level=95)


def test_out_of_fold_separability_tells_apart_a_gap_from_none():
    far, near = paired_circle(60, 0.6)
    assert geometry.out_of_fold_correct(far, near).mean() == 1.0
    rng = np.random.default_rng(0)
    same = geometry.out_of_fold_correct(rng.standard_normal((200, 8)), rng.standard_normal((200, 8)))
    assert set(np.unique(same)) <= {0.0, 0.5, 1.0} and same.mean() < 0.65


@pytest.mark.parametrize(
    "low, high, side, expected",
    [
        (0.97, 0.99, "above", "reproduced"),  # (a): the whole interval above 0.95
        (0.80, 0.90, "above", "not reproduced"),
        (0.93, 0.99, "above", "inconclusive"),
        (-0.2, -0.1, "below", "reproduced"),  # (b): gap(CLOOB) - gap(CLIP) below 0
        (0.1, 0.2, "below", "not reproduced"),
        (-0.1, 0.1, "below", "inconclusive"),
        (np.nan, np.nan, "below", "inconclusive"),  # not measured (no CLOOB)
    ],
)
def test_verdict_rules(low, high, side, expected):
    threshold = 0.95 if side == "above" and low > 0.5 else 0.0
    assert spaces.verdict(low, high, threshold, side) == expected


def test_the_verdict_table_applies_each_findings_rule():
    row = {"objective": "infonce", "model": spaces.TEACHER_ROW, "language": "en"}
    table = pd.DataFrame([row | {"linear separability": 0.99, "separability low": 0.98, "separability high": 1.0}])
    differences = pd.DataFrame(
        [
            row
            | {
                "objective": spaces.CLOOB,
                "measure": "modality gap",
                "difference": 0.05,
                "ci_low": 0.02,
                "ci_high": 0.08,
            }
        ]
    )
    predictive = pd.DataFrame([{"objective": "infonce", "difference": 0.1, "ci_low": -0.2, "ci_high": 0.3}])
    verdicts = spaces.verdicts(table, differences, predictive).set_index("finding")["verdict"]
    assert verdicts.to_dict() == {"a": "reproduced", "b": "not reproduced", "c": "inconclusive"}
    lines = spaces.verdict_lines(spaces.verdicts(table, differences.iloc[:0], predictive))
    assert lines[1].startswith("(b) CLOOB's modality gap is smaller than CLIP's: inconclusive (not measured")


def test_local_against_global_on_clusters_whose_answer_is_known():
    # Per-cluster retrieval follows the local rank exactly; the global rank is constant within a space.
    clusters = np.tile(np.arange(6), 2)
    local = np.r_[np.arange(6.0), np.arange(6.0) + 0.5]
    global_ = np.repeat([10.0, 11.0], 6)
    result = geometry.local_against_global(clusters, local, global_, local / 10, resamples=200)
    assert result["rho local"] == pytest.approx(1.0) and result["ci_low"] > 0
    too_few = geometry.local_against_global([0, 0, 1, 1], [1, 2, 3, 4], [1, 1, 2, 2], [1, 2, 3, 4])
    assert np.isnan(too_few["ci_low"])


def test_bad_input_is_named():
    with pytest.raises(TomclipError, match="'above' or 'below'"):
        spaces.verdict(0.1, 0.2, 0.0, "beside")
    with pytest.raises(TomclipError, match="wrong order"):
        spaces.verdict(0.2, 0.1, 0.0, "above")
    with pytest.raises(TomclipError, match="pairs item i"):
        geometry.gap_draws(np.ones((4, 3)), np.ones((5, 3)), geometry.bootstrap_counts(4, 2))
    with pytest.raises(TomclipError, match="at least 2 items"):
        geometry.bootstrap_counts(1, 10)
    with pytest.raises(TomclipError, match="names unknown ones, clip: .*infoloob\\+hopfield"):
        spaces.objective_teachers("smoke", None, None, ["infonce", "clip"])


def test_teachers_of_two_objectives_share_the_text_tower_and_differ_in_images(small_corpus):
    training = embedded.teacher_training_set(small_corpus, 32, fashion_per_epoch=256, emoji_repeats=0.2)
    trained = {
        objective: teacher_lib.train_embedded_teacher(
            teacher_lib.TeacherConfig(
                epochs=1, batch_size=64, fashion_per_epoch=256, emoji_repeats=0.2, objective=objective
            ),
            training.images,
            training.captions,
            training.weights,
            log=lambda message: None,
        )[0]
        for objective in ("infonce", "infoloob+hopfield")
    }
    clip, cloob = trained.values()
    assert teacher_lib.shares_text_tower(clip, cloob)
    captions = ["a photo of a cat", "grinning face", "ein Foto von einem Hund"]
    np.testing.assert_array_equal(clip.encode_texts(captions), cloob.encode_texts(captions))
    images = training.images[:8]
    assert not np.array_equal(clip.encode_images(images), cloob.encode_images(images)), "the image towers differ"


class PublishedTeacher:
    config = None  # a teacher loaded as published (the paper profile's CLIP)
    device = "cpu"


def test_the_paper_profile_skips_a_missing_cloob_checkpoint_with_a_message(tmp_path):
    teacher, said = PublishedTeacher(), []
    assert spaces.objective_teachers("paper", teacher, None, ["infonce", spaces.CLOOB], None, said.append) == {
        "infonce": teacher
    }
    missing = tmp_path / "cloob-vit-b16.pt"
    assert list(spaces.objective_teachers("paper", teacher, None, ["infonce"], missing, said.append)) == ["infonce"]
    assert "No CLOOB checkpoint named" in said[0] and "does not exist: CLOOB is skipped" in said[1]
    missing.write_bytes(b"weights")  # there, but not a checkpoint: a clear error, not a silent skip
    with pytest.raises(TomclipError, match="not a checkpoint torch can read"):
        spaces.objective_teachers("paper", teacher, None, ["infonce"], missing, said.append)
