"""Structural coherence (tomclip_lib/analysis/coherence.py) on clouds small enough to compute by hand.

LINE: four points on the line y = 1 of the plane, p_t = (t, 1) for t = 0, 1, 2, 3.
- Euclidean distances |t - u|: 1 (pairs 01, 12, 23), 2 (02, 13), 3 (03). Over the 16 entries of the
  matrix (4 zeros on the diagonal): mean 20 / 16 = 1.25; squared deviations 4 * 1.5625 + 6 * 0.0625 +
  4 * 0.5625 + 2 * 3.0625 = 15, unbiased variance 15 / 15 = 1, so the paper's threshold is
  tau = 1.25 - 0.5 * 1 = 0.75, floored at the smallest distance (rule (a) of topology/distances.py):
  tau = 1. The sparsified graph keeps the three unit edges; the normaliser is 1 + 1e-8.
- Cosines, (tu + 1) / sqrt((t^2 + 1)(u^2 + 1)): cos01 = 1/sqrt2 = .7071, cos02 = 1/sqrt5 = .4472,
  cos03 = 1/sqrt10 = .3162, cos12 = 3/sqrt10 = .9487, cos13 = 4/sqrt20 = .8944, cos23 = 7/sqrt50 = .9899;
  so the cosine distances 1 - cos of (01, 02, 03, 12, 13, 23) are (.2929, .5528, .6838, .0513, .1056,
  .0101), ranked (4, 5, 6, 2, 3, 1), and the nearest neighbours are 0 -> 1, 1 -> 2, 2 -> 3, 3 -> 2;
  the two nearest 0 -> {1, 2}, 1 -> {2, 3}, 2 -> {3, 1}, 3 -> {2, 1}.
"""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr

from tomclip_lib.analysis import coherence as c
from tomclip_lib.errors import TomclipError

LINE = np.array([[t, 1.0] for t in (0, 1, 2, 3)])
EPS = 1e-8  # the engine's NORMALIZE_EPS: every kept distance is divided by (largest kept + EPS)
#: Student rows 0 and 1 swapped: row 0 is p_1, row 1 is p_0.
SWAPPED = LINE[[1, 0, 2, 3]]
#: (1, 0), (0, 1), (-1, 0), (0, -1): cosine distances exactly 1 (neighbours on the square) or 2 (opposite).
SQUARE = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])


def test_the_lines_cosine_distances_and_neighbours_are_the_hand_computed_ones():
    cos = {(0, 1): 1 / math.sqrt(2), (0, 2): 1 / math.sqrt(5), (0, 3): 1 / math.sqrt(10)}
    cos |= {(1, 2): 3 / math.sqrt(10), (1, 3): 4 / math.sqrt(20), (2, 3): 7 / math.sqrt(50)}
    distances = c.cosine_distances(LINE)
    for (i, j), value in cos.items():
        assert distances[i, j] == pytest.approx(1 - value, abs=1e-15)
        assert distances[j, i] == pytest.approx(1 - value, abs=1e-15)
    assert (np.diag(distances) == 0).all()
    assert c.nearest_neighbours(distances, 1).tolist() == [[1], [2], [3], [2]]
    assert c.nearest_neighbours(distances, 2).tolist() == [[1, 2], [2, 3], [3, 1], [2, 1]]


def test_identical_clouds_are_perfectly_coherent():
    assert c.coherence(LINE, LINE, neighbours=2) == {
        "l_ta": 0.0,
        "l_dm": 0.0,
        "rank_correlation": 1.0,
        "knn_overlap": 1.0,
        "fidelity": 1.0,
    }


def test_a_scaled_cloud_has_the_teachers_shape_and_direction():
    # Student 2 * LINE (exact in binary). Its kept edges are the same three, of length 2, normalised by
    # 2 + EPS; the teacher's of length 1 by 1 + EPS. Each kept entry differs by
    # 2 / (2 + EPS) - 1 / (1 + EPS) = EPS / ((2 + EPS)(1 + EPS)) ~ EPS / 2, the only trace of the scale:
    # L_dm = 6 such entries (3 edges, both triangles) squared over 16 = 6 (EPS / 2)^2 / 16;
    # L_ta = (1 / sqrt 2) * W_2({1, 1, 1} / (1 + EPS), {2, 2, 2} / (2 + EPS)) = (1 / sqrt 2) EPS / 2.
    gap = EPS / ((2 + EPS) * (1 + EPS))
    terms = c.topological_terms(2 * LINE, LINE)
    assert terms["l_dm"] == pytest.approx(6 * gap**2 / 16, rel=1e-6)
    assert terms["l_ta"] == pytest.approx(gap / math.sqrt(2), rel=1e-6)
    assert terms["l_ta"] < 1e-8 and terms["l_dm"] < 1e-16  # zero but for the engine's EPS
    # Fidelity reads directions only: cos(2p, p) = 2|p|^2 / (2|p| |p|) = 1 for every row (the point-wise
    # MSE of training would read the scale: mean((2p - p)^2) = (0 + 1 + 4 + 9 + 4 * 1) / 8 = 2.25).
    assert c.fidelity(2 * LINE, LINE) == pytest.approx(1.0, abs=1e-15)
    assert c.rank_correlation(2 * LINE, LINE) == 1.0
    assert c.knn_overlap(2 * LINE, LINE, neighbours=2) == 1.0


def test_swapping_two_points_breaks_neighbourhoods_ranks_and_fidelity_by_hand_computed_amounts():
    # Student pair (i, j) is teacher pair (pi(i), pi(j)) with pi = (1, 0, 2, 3). Cosine distances of the
    # student's (01, 02, 03, 12, 13, 23) are the teacher's (01, 12, 13, 02, 03, 23) =
    # (.2929, .0513, .1056, .5528, .6838, .0101), ranked (4, 2, 3, 5, 6, 1) against the teacher's
    # (4, 5, 6, 2, 3, 1): rank differences (0, 3, 3, -3, -3, 0), sum of squares 36, so over the 6 pairs
    # Spearman's rho = 1 - 6 * 36 / (6 * (36 - 1)) = -1/35.
    assert c.rank_correlation(SWAPPED, LINE) == pytest.approx(-1 / 35, abs=1e-12)
    # Nearest neighbour of each student row: row 0 (p1) -> row 2 (p2, .0513), row 1 (p0) -> row 0 (p1, .2929),
    # row 2 (p2) -> row 3 (.0101), row 3 (p3) -> row 2: (2, 0, 3, 2) against the teacher's (1, 2, 3, 2):
    # rows 2 and 3 keep theirs, so k = 1 gives 2 / 4.
    assert c.knn_overlap(SWAPPED, LINE, neighbours=1) == 0.5
    # Two nearest: student {2, 3}, {0, 2}, {3, 0}, {2, 0} against the teacher's {1, 2}, {2, 3}, {3, 1},
    # {2, 1}: one shared in every row, so 4 * (1/2) / 4.
    assert c.knn_overlap(SWAPPED, LINE, neighbours=2) == 0.5
    assert c.knn_overlap(SWAPPED, LINE, neighbours=3) == 1.0  # k = n - 1: every other point, always
    # Fidelity: rows 0 and 1 meet the wrong target, cos(p1, p0) = 1/sqrt2; rows 2 and 3 their own (1):
    # (2 / sqrt2 + 2) / 4 = (sqrt2 + 2) / 4.
    assert c.fidelity(SWAPPED, LINE) == pytest.approx((math.sqrt(2) + 2) / 4, abs=1e-15)
    # The same point set, so the same spanning tree lengths: L_ta = 0. But the student's unit edges are
    # rows 01, 02, 23 (|1 - 0|, |1 - 2|, |2 - 3|), the teacher's 01, 12, 23: two pairs differ by a full
    # normalised edge 1 / (1 + EPS), in both triangles, so L_dm = 4 / 16 / (1 + EPS)^2.
    terms = c.topological_terms(SWAPPED, LINE)
    assert terms["l_ta"] == 0.0
    assert terms["l_dm"] == pytest.approx(0.25 / (1 + EPS) ** 2, rel=1e-12)


def test_what_the_sparsified_terms_see_of_a_point_moved_away():
    moved = np.array([[t, 1.0] for t in (0, 1, 2, 4)])  # the last point moved from 3 to 4
    # Sparsified (the paper's s = 0.5): the student's distances 1, 1, 2, 2, 3, 4 (twice each, and 4 zeros)
    # have mean 26 / 16 = 1.625 and unbiased sd sqrt(27.75 / 15) = 1.36, tau = 0.945, floored to 1: only
    # edges 01 and 12 are kept. Its kept deaths {1, 1} and the teacher's {1, 1, 1} are the same uniform
    # distribution, so L_ta = 0: L_ta does not see a point that leaves the kept graph. L_dm sees it: the
    # teacher keeps edge 23 (both triangles: 2 entries of 1 / (1 + EPS)), the student not: 2 / 16.
    terms = c.topological_terms(moved, LINE)
    assert terms["l_ta"] == 0.0
    assert terms["l_dm"] == pytest.approx(0.125 / (1 + EPS) ** 2, rel=1e-12)
    # Every edge kept (sparsify=None): the normalisers are the largest distances, 3 and 4 (+ EPS).
    # Spanning-tree deaths: teacher {1, 1, 1} / 3, student {1, 1, 2} / 4; sorted gaps -1/12, -1/12, 1/6, so
    # W_2^2 = (1 + 1 + 4) / 144 / 3 = 1/72 and L_ta = sqrt(1/72) / sqrt2 = 1/12.
    # Matrices D / 3 and D' / 4 on pairs (01, 02, 03, 12, 13, 23): (1/3, 2/3, 1, 1/3, 2/3, 1/3) against
    # (1/4, 2/4, 1, 1/4, 3/4, 2/4), gaps (1, 2, 0, 1, -1, -2) / 12, squares 11 / 144, both triangles
    # over 16 entries: L_dm = 22 / 144 / 16 = 11 / 1152.
    everything = c.topological_terms(moved, LINE, sparsify=None)
    assert everything["l_ta"] == pytest.approx(1 / 12, rel=1e-7)
    assert everything["l_dm"] == pytest.approx(11 / 1152, rel=1e-7)


def test_ties_go_by_distance_then_by_the_lower_index():
    # On SQUARE each point has two neighbours at cosine distance exactly 1 (dot 0) and one at 2 (dot -1).
    distances = c.cosine_distances(SQUARE)
    assert distances.tolist() == [[0, 1, 2, 1], [1, 0, 1, 2], [2, 1, 0, 1], [1, 2, 1, 0]]
    assert c.nearest_neighbours(distances, 1).tolist() == [[1], [0], [1], [0]]
    assert c.nearest_neighbours(distances, 2).tolist() == [[1, 3], [0, 2], [1, 3], [0, 2]]
    # Student rows (1, 0), (-1, 0), (0, 1), (0, -1): rows 0 and 1 each tie rows 2 and 3 (take 2), rows 2
    # and 3 tie rows 0 and 1 (take 0): (2, 2, 0, 0) against the teacher's (1, 0, 1, 0); only row 3 keeps
    # its neighbour: 1 / 4.
    assert c.knn_overlap(SQUARE[[0, 2, 1, 3]], SQUARE, neighbours=1) == 0.25
    # Tied distances take their average rank. Pairs (01, 02, 03, 12, 13, 23): teacher distances
    # (1, 2, 1, 1, 2, 1), student (2, 1, 1, 1, 1, 2); four 1s share ranks 1-4 (2.5), two 2s ranks 5-6
    # (5.5). Centred on 3.5: teacher (-1, 2, -1, -1, 2, -1), student (2, -1, -1, -1, -1, 2); their
    # products sum to -6 and each has squares summing to 12, so rho = -6 / 12.
    assert c.rank_correlation(SQUARE[[0, 2, 1, 3]], SQUARE) == -0.5


def test_the_rank_correlation_is_scipys_spearman_rho():
    rng = np.random.default_rng(3)
    teacher = rng.standard_normal((40, 8))
    student = teacher + rng.standard_normal((40, 8))
    upper = np.triu_indices(40, k=1)
    pairs = c.cosine_distances(student)[upper], c.cosine_distances(teacher)[upper]
    assert c.rank_correlation(student, teacher) == pytest.approx(spearmanr(*pairs).statistic, abs=1e-14)


def test_each_metric_points_the_way_more_coherent_says():
    rng = np.random.default_rng(0)
    teacher = rng.standard_normal((64, 16))
    close = c.coherence(teacher + 0.1 * rng.standard_normal((64, 16)), teacher, neighbours=5)
    far = c.coherence(teacher + 1.0 * rng.standard_normal((64, 16)), teacher, neighbours=5)
    assert set(close) == set(c.MORE_COHERENT) == set(c.METRICS)
    for metric, direction in c.MORE_COHERENT.items():
        assert (close[metric] < far[metric]) == (direction == "lower"), metric


def test_the_same_inputs_give_the_same_bits():
    rng = np.random.default_rng(1)
    teacher = rng.standard_normal((48, 32))
    student = teacher + 0.3 * rng.standard_normal((48, 32))
    assert c.coherence(student, teacher) == c.coherence(student.copy(), teacher.copy())


@pytest.mark.parametrize(
    ("student", "teacher", "neighbours", "message"),
    [
        (LINE[:3], LINE, 1, "student has 3 rows, teacher 4"),
        (np.hstack([LINE, LINE]), LINE, 1, "4 dimensions, the teacher's 2"),
        (LINE, LINE, 4, "fewer than neighbours \\+ 1 = 5"),
        (LINE, LINE, 0, "at least 1"),
        (
            np.where(np.arange(8).reshape(4, 2) == 5, np.nan, LINE),
            LINE,
            1,
            "student contains NaN or inf \\(rows \\[2\\]\\)",
        ),
        (LINE, np.vstack([LINE[:3], [0.0, 0.0]]), 1, "teacher has rows of norm 0 \\(rows \\[3\\]\\)"),
        (LINE[0], LINE, 1, "student must be a non-empty \\(n, d\\) array"),
    ],
)
def test_bad_input_says_what_was_wrong_and_what_to_do(student, teacher, neighbours, message):
    with pytest.raises(TomclipError, match=message) as error:
        c.coherence(student, teacher, neighbours=neighbours)
    assert any(word in str(error.value) for word in ("pass", "lower", "check", "must"))


def test_a_cloud_whose_distances_are_all_equal_has_no_rank_correlation():
    collapsed = np.ones((4, 2))  # one direction: every cosine distance 0
    assert math.isnan(c.rank_correlation(collapsed, LINE))
    assert math.isnan(c.rank_correlation(LINE[:2], LINE[:2]))  # one pair: nothing to rank


def test_batches_are_cut_as_training_cuts_a_round():
    assert [b.tolist() for b in c.training_sized_batches(10, 4)] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert [len(b) for b in c.training_sized_batches(8, 4)] == [4, 4]
    assert [len(b) for b in c.training_sized_batches(3, 4)] == [3]
    assert c.training_sized_batches(0, 4) == []
    for count, size in [(10, 4), (257, 256), (1000, 256)]:  # train.epoch_batches' torch.tensor_split
        expected = torch.tensor_split(torch.arange(count), -(-count // size))
        assert [b.tolist() for b in c.training_sized_batches(count, size)] == [b.tolist() for b in expected]
    with pytest.raises(TomclipError, match="at least 2"):
        c.training_sized_batches(10, 1)


@pytest.fixture(scope="module")
def two_languages():
    """13 rows, English and German interleaved (7 en, 6 de), and their coherence in batches of 4."""
    rng = np.random.default_rng(2)
    teacher = rng.standard_normal((13, 3))
    student = teacher + 0.5 * rng.standard_normal((13, 3))
    languages = np.array(["en", "de"] * 6 + ["en"])
    return student, teacher, languages, c.coherence_table(student, teacher, languages, batch_size=4, neighbours=1)


def test_the_table_holds_one_row_per_language_and_batch(two_languages):
    student, teacher, languages, table = two_languages
    assert list(table.columns) == c.TABLE_COLUMNS
    # 7 English rows: ceil(7 / 4) = 2 batches of 4 and 3; 6 German: 2 batches of 3. Languages in
    # their order of first appearance, each language's rows in their order.
    assert table[["language", "batch", "captions"]].values.tolist() == [
        ["en", 0, 4],
        ["en", 1, 3],
        ["de", 0, 3],
        ["de", 1, 3],
    ]
    english = np.flatnonzero(languages == "en")  # rows 0, 2, 4, 6, 8, 10, 12
    second_batch = english[4:]
    expected = c.coherence(student[second_batch], teacher[second_batch], neighbours=1)
    assert table.iloc[1][c.METRICS].to_dict() == expected


def test_the_summary_averages_batches_per_group(two_languages):
    _, _, _, table = two_languages
    summary = c.summarize_coherence(table)
    assert list(summary.columns) == ["language", "batches", "captions", *c.METRICS]
    assert summary[["language", "batches", "captions"]].values.tolist() == [["en", 2, 7], ["de", 2, 6]]
    english = table[table.language == "en"]
    assert summary.iloc[0]["fidelity"] == pytest.approx(english.fidelity.mean(), abs=0)
    # Students and seeds are columns the caller adds; a NaN batch makes its group's mean NaN.
    both = pd.concat([table.assign(student="MCLIP"), table.assign(student="ToMCLIP")], ignore_index=True)
    both.loc[0, "rank_correlation"] = np.nan
    by_student = c.summarize_coherence(both, by=["student", "language"])
    assert len(by_student) == 4
    assert by_student.rank_correlation.isna().tolist() == [True, False, False, False]


def test_the_table_and_summary_refuse_what_they_cannot_measure(two_languages):
    student, teacher, languages, table = two_languages
    with pytest.raises(TomclipError, match="Language 'en': batch 1 holds 3 captions .* fewer than neighbours"):
        c.coherence_table(student, teacher, languages, batch_size=4, neighbours=3)
    with pytest.raises(TomclipError, match="one language per row: 13 rows"):
        c.coherence_table(student, teacher, languages[:-1], batch_size=4, neighbours=1)
    with pytest.raises(TomclipError, match="lacks the columns \\['seed'\\]"):
        c.summarize_coherence(table, by=["seed", "language"])
