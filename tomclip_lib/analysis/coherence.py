"""Structural coherence (issue 29): how close a student's point cloud is to its teacher's.

The paper's first claim is that topological alignment makes the student's embeddings *shaped* like
the teacher's. These functions measure that shape on held-out captions, one batch at a time, as
the training loss sees a batch. Each takes two (n, d) arrays, `student` and `teacher`, row i of
each the same caption (the student's embedding of its translation, the teacher's of its English
version), and returns a number:

- `l_ta`: the paper's topological alignment, W_2 between the two sparsified H0 diagrams (lower is
  more coherent; 0 for the same shape);
- `l_dm`: the paper's distance-matrix term, MSE between the sparsified, max-normalised Euclidean
  distance matrices (lower is more coherent);
- `rank_correlation`: Spearman's rho between the two clouds' pairwise cosine distances (higher is
  more coherent; 1 when every pair keeps its rank);
- `knn_overlap`: the mean share of each point's k nearest neighbours (cosine) that it keeps in the
  other cloud (higher is more coherent; 1 when every neighbourhood is kept);
- `fidelity`: the mean cosine of each student embedding to its teacher target (higher is closer).

Two geometries: L_ta and L_dm are the training loss's own terms (Euclidean, computed by
tomclip_lib.topology, on whatever the caller passes: the student head's raw outputs reproduce what
the loss saw); the rank correlation and kNN overlap use cosine distances, the geometry retrieval
scores in (for L2-normalised rows the two rank pairs alike, d_euclid^2 = 2 d_cosine).

Bit stability. Everything is computed in float64 (matrix products by torch, whose kernels
numerics.env pins, none by numpy's unpinned BLAS), so on one machine every number repeats to its
last bit. Across machines fidelity moves in its last bits only; the others involve discrete
choices that a last-bit change can flip:
- rank correlation: a near-tie between two pairs' distances swaps their ranks, which moves rho by
  at most 12 / P^2 (P pairs: 1.1e-8 for a batch of 256);
- kNN overlap: a near-tie between two neighbours' distances, which moves it by 1 / (n k); exact
  ties go to the lower row index, so a tie never depends on the sort;
- L_ta and L_dm: an edge within rounding of the sparsification threshold tau is kept or removed
  (L_dm then jumps by its squared normalised length). Ties inside the spanning tree do not matter:
  every minimum spanning tree has the same multiset of edge lengths, which is all L_ta reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata

from ..errors import TomclipError
from ..topology import AlignmentLoss
from ..topology.stable import stable_sqrt

#: Which way each metric is more coherent (a figure's arrows, a table's reading).
MORE_COHERENT = {
    "l_ta": "lower",
    "l_dm": "lower",
    "rank_correlation": "higher",
    "knn_overlap": "higher",
    "fidelity": "higher",
}
METRICS = list(MORE_COHERENT)
#: The columns of `coherence_table`: one row per batch, one column per metric.
TABLE_COLUMNS = ["language", "batch", "captions", *METRICS]

#: k of the kNN overlap: a neighbourhood small against a training batch of 256.
DEFAULT_NEIGHBOURS = 10
#: The paper's s of the sparsification threshold, for L_ta and L_dm alike (train.TrainConfig.sparsify's
#: default; the reference's L_dm always used it). One yardstick for every student, whatever it trained with.
TRAINING_SPARSIFY = 0.5


def _checked_cloud(points, name: str) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if not array.flags.writeable:  # a read-only array (np.load's mmap) cannot back a torch tensor
        array = array.copy()
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise TomclipError(f"{name} must be a non-empty (n, d) array of embeddings, got shape {array.shape}.")
    if not np.isfinite(array).all():
        bad = np.flatnonzero(~np.isfinite(array).all(axis=1))[:5].tolist()
        raise TomclipError(
            f"{name} contains NaN or inf (rows {bad}); check the encoder's output for these captions "
            "before measuring coherence."
        )
    return array


def _checked_pair(student, teacher, neighbours: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The two clouds as float64 arrays of one shape: row i of each embeds the same caption."""
    student, teacher = _checked_cloud(student, "student"), _checked_cloud(teacher, "teacher")
    if student.shape[0] != teacher.shape[0]:
        raise TomclipError(
            f"student has {student.shape[0]} rows, teacher {teacher.shape[0]}: row i of each must embed "
            "the same caption; pass the two embeddings of the same held-out captions, in the same order."
        )
    if student.shape[1] != teacher.shape[1]:
        raise TomclipError(
            f"student embeddings have {student.shape[1]} dimensions, the teacher's {teacher.shape[1]}: "
            "fidelity compares each student row with its teacher target, so pass the student's output "
            "in the teacher's space (after its projection head)."
        )
    if neighbours is not None:
        _check_neighbours(len(student), neighbours)
    return student, teacher


def _check_neighbours(count: int, neighbours: int) -> None:
    if neighbours < 1:
        raise TomclipError(f"neighbours (k of the kNN overlap) must be at least 1, got {neighbours}.")
    if count < neighbours + 1:
        raise TomclipError(
            f"A batch of {count} points has fewer than neighbours + 1 = {neighbours + 1} points, so a point "
            f"cannot have {neighbours} neighbours besides itself: lower neighbours or pass a larger batch."
        )


def _unit_rows(points: np.ndarray, name: str) -> torch.Tensor:
    """Rows divided by their Euclidean norm, in float64; a zero row has no direction to compare."""
    rows = torch.from_numpy(points)
    squared = (rows * rows).sum(dim=1)
    if bool((squared == 0).any()):
        zero = torch.nonzero(squared == 0).flatten()[:5].tolist()
        raise TomclipError(
            f"{name} has rows of norm 0 (rows {zero}): a cosine needs a direction; check the encoder's "
            "output for these captions."
        )
    return rows / stable_sqrt(squared)[:, None]


def _cosine_distances(unit: torch.Tensor) -> np.ndarray:
    distances = (1.0 - unit @ unit.T).clamp_(0.0, 2.0)
    return distances.fill_diagonal_(0.0).numpy()


def _cosine_distances_of(student: np.ndarray, teacher: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _cosine_distances(_unit_rows(student, "student")), _cosine_distances(_unit_rows(teacher, "teacher"))


def cosine_distances(points) -> np.ndarray:
    """(n, n) matrix of 1 - cos(p_i, p_j), in float64, exactly 0 on the diagonal."""
    return _cosine_distances(_unit_rows(_checked_cloud(points, "points"), "points"))


def nearest_neighbours(distances: np.ndarray, neighbours: int) -> np.ndarray:
    """(n, k) indices of each point's k nearest others in an (n, n) distance matrix, self excluded;
    ties go by distance, then by the lower index (a stable sort), so equal distances never depend
    on the sort's internals."""
    distances = np.asarray(distances, dtype=np.float64)
    _check_neighbours(len(distances), neighbours)
    ranked = distances.copy()
    np.fill_diagonal(ranked, np.inf)  # self last, whatever its computed distance
    return np.argsort(ranked, axis=1, kind="stable")[:, :neighbours]


def _knn_overlap(student_distances: np.ndarray, teacher_distances: np.ndarray, neighbours: int) -> float:
    student_sets = nearest_neighbours(student_distances, neighbours)
    teacher_sets = nearest_neighbours(teacher_distances, neighbours)
    in_teacher_set = np.zeros(teacher_distances.shape, dtype=bool)
    np.put_along_axis(in_teacher_set, teacher_sets, True, axis=1)
    shared = np.take_along_axis(in_teacher_set, student_sets, axis=1).sum()
    return float(shared) / (len(student_sets) * neighbours)  # a count over a count: exact to rounding


def knn_overlap(student, teacher, neighbours: int = DEFAULT_NEIGHBOURS) -> float:
    """Mean over points i of |kNN_student(i) & kNN_teacher(i)| / k, with cosine distances, self
    excluded and ties by distance then index (nearest_neighbours): 1 when every neighbourhood is
    kept. Discrete: a near-tie flipped by a last-bit change moves it by 1 / (n k)."""
    student, teacher = _checked_pair(student, teacher, neighbours)
    student_distances, teacher_distances = _cosine_distances_of(student, teacher)
    return _knn_overlap(student_distances, teacher_distances, neighbours)


def _rank_correlation(student_distances: np.ndarray, teacher_distances: np.ndarray) -> float:
    upper = np.triu_indices(len(student_distances), k=1)
    student_pairs, teacher_pairs = student_distances[upper], teacher_distances[upper]
    if len(student_pairs) < 2 or np.ptp(student_pairs) == 0 or np.ptp(teacher_pairs) == 0:
        return float("nan")  # all pairs equal (a collapsed cloud, or n <= 2): no ranking to compare
    # Spearman's rho is Pearson's r of the ranks; summed element-wise here (scipy's spearmanr takes a
    # matrix product through numpy's BLAS, which numerics.env does not pin).
    student_ranks = rankdata(student_pairs) - (len(student_pairs) + 1) / 2
    teacher_ranks = rankdata(teacher_pairs) - (len(teacher_pairs) + 1) / 2
    covariance = np.sum(student_ranks * teacher_ranks)
    return float(covariance / np.sqrt(np.sum(student_ranks**2) * np.sum(teacher_ranks**2)))


def rank_correlation(student, teacher) -> float:
    """Spearman's rho between the two clouds' pairwise cosine distances (upper triangle, tied
    distances at their average rank): scale-free, 1 when every pair keeps its rank. NaN when one
    cloud's distances are all equal (a collapsed student, or 2 points): a ranking is undefined."""
    student, teacher = _checked_pair(student, teacher)
    return _rank_correlation(*_cosine_distances_of(student, teacher))


def _fidelity(student_unit: torch.Tensor, teacher_unit: torch.Tensor) -> float:
    return float(np.mean((student_unit * teacher_unit).sum(dim=1).numpy()))


def fidelity(student, teacher) -> float:
    """Mean over rows of cos(student_i, teacher_i): the point-wise fit, free of scale (a student
    that is its teacher times a positive constant scores 1, where the MSE of training would not)."""
    student, teacher = _checked_pair(student, teacher)
    return _fidelity(_unit_rows(student, "student"), _unit_rows(teacher, "teacher"))


def topological_terms(student, teacher, *, sparsify: float | None = TRAINING_SPARSIFY) -> dict[str, float]:
    """{"l_ta", "l_dm"}: the training loss's own terms (AlignmentLoss, without gradient, in float64):
    L_ta in its exact mode (the limit of the reference's sliced estimate: deterministic) and L_dm,
    both on the sparsified (s = `sparsify`; None keeps every edge), max-normalised Euclidean graphs.
    0 for clouds of one shape up to scale: the engine divides each by its largest kept distance
    (plus 1e-8, so a scaled copy is 0 only to ~1e-8)."""
    student, teacher = _checked_pair(student, teacher)
    loss = AlignmentLoss(
        pointwise=0.0, distance_matrix=1.0, topology_h0=1.0, sparsify=sparsify, distance_matrix_sparsify=sparsify
    )
    with torch.no_grad():
        _, terms = loss(torch.from_numpy(student), torch.from_numpy(teacher))
    return {"l_ta": float(terms["topology_h0"]), "l_dm": float(terms["distance_matrix"])}


def coherence(
    student, teacher, *, neighbours: int = DEFAULT_NEIGHBOURS, sparsify: float | None = TRAINING_SPARSIFY
) -> dict[str, float]:
    """Every metric of one batch (METRICS); unit rows and cosine distances computed once for the
    metrics that share them."""
    student, teacher = _checked_pair(student, teacher, neighbours)
    student_unit, teacher_unit = _unit_rows(student, "student"), _unit_rows(teacher, "teacher")
    student_distances, teacher_distances = _cosine_distances(student_unit), _cosine_distances(teacher_unit)
    return {
        **topological_terms(student, teacher, sparsify=sparsify),
        "rank_correlation": _rank_correlation(student_distances, teacher_distances),
        "knn_overlap": _knn_overlap(student_distances, teacher_distances, neighbours),
        "fidelity": _fidelity(student_unit, teacher_unit),
    }


def training_sized_batches(count: int, batch_size: int) -> list[np.ndarray]:
    """Rows 0..count-1 in their order, cut as train.epoch_batches cuts a round: ceil(count / batch_size)
    batches of nearly equal size (the first count % batches hold one row more), so no short last
    batch is either dropped (its captions would go unmeasured) or kept (a batch of a few points has
    another L_ta and kNN overlap than one of 256: n changes the metrics). Every batch holds at most
    batch_size rows and at least batch_size // 2, or all count rows when count < batch_size."""
    if batch_size < 2:
        raise TomclipError(f"batch_size must be at least 2 (a cloud needs pairs), got {batch_size}.")
    if count <= 0:
        return []
    return np.array_split(np.arange(count), -(-count // batch_size))


def coherence_table(
    student,
    teacher,
    languages,
    *,
    batch_size: int,
    neighbours: int = DEFAULT_NEIGHBOURS,
    sparsify: float | None = TRAINING_SPARSIFY,
) -> pd.DataFrame:
    """Coherence of held-out captions batched as in training: one row per (language, batch), columns
    TABLE_COLUMNS (captions: the batch's size; one column per metric).

    `languages` names each row's language; each language's rows are batched alone, in the order
    given (training_sized_batches), languages in order of first appearance. A batch is thus a function
    of the rows' order and batch_size only: batch b of a language holds the same captions for every
    student given the same rows, so two students compare pairwise by (language, batch). Pass one row
    per English caption within a language (as training's batches hold): duplicate teacher targets
    make a degenerate cloud.
    """
    student, teacher = _checked_pair(student, teacher)
    languages = np.asarray(languages, dtype=object)
    if languages.shape != (len(student),):
        raise TomclipError(
            f"languages must name one language per row: {len(student)} rows, languages of shape {languages.shape}."
        )
    plan = []  # every batch checked before any is measured
    for language in pd.unique(languages):
        members = np.flatnonzero(languages == language)
        for batch, rows in enumerate(training_sized_batches(len(members), batch_size)):
            if len(rows) < neighbours + 1:
                raise TomclipError(
                    f"Language {language!r}: batch {batch} holds {len(rows)} captions ({len(members)} held out, "
                    f"batch_size {batch_size}), fewer than neighbours + 1 = {neighbours + 1}: lower neighbours, "
                    "raise batch_size, or hold out more captions of this language."
                )
            plan.append((language, batch, members[rows]))
    records = [
        {
            "language": language,
            "batch": batch,
            "captions": len(rows),
            **coherence(student[rows], teacher[rows], neighbours=neighbours, sparsify=sparsify),
        }
        for language, batch, rows in plan
    ]
    return pd.DataFrame(records, columns=TABLE_COLUMNS)


def summarize_coherence(table: pd.DataFrame, by=("language",)) -> pd.DataFrame:
    """Mean of each metric over the batches of each group of `by` (e.g. student, seed, language),
    with the number of batches and captions. A batch counts once, whatever its size (sizes differ by
    one row at most); a NaN (an undefined rank correlation) stays NaN in its group's mean, not skipped."""
    by = list(by)
    missing = [column for column in [*by, "captions", *METRICS] if column not in table.columns]
    if missing:
        raise TomclipError(
            f"The coherence table lacks the columns {missing}: summarise a table from coherence_table, "
            "with the columns of `by` added by the caller (e.g. table.assign(student=..., seed=...))."
        )
    grouped = table.groupby(by, sort=False)
    summary = grouped[METRICS].mean(skipna=False)
    summary.insert(0, "batches", grouped.size())
    summary.insert(1, "captions", grouped["captions"].sum())
    return summary.reset_index()
