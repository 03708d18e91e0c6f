"""Degenerate batches: every loss finite, with finite gradients, and meaningful.

The two rules of tomclip_lib/topology/distances.py under test:
(a) threshold floor: tau := max(paper's tau, smallest off-diagonal distance), so a batch always keeps
    its shortest edges (an equidistant cloud keeps every edge; n = 2 keeps its edge);
(b) normaliser fallback: the largest kept distance, unless it is below 1% of the batch's largest
    distance (only duplicates kept): then the largest distance; 1 when every distance is 0. The
    scale is that + NORMALIZE_EPS in every case.
"""

import pytest
import torch

from tomclip_lib.topology import (
    MODES,
    AlignmentLoss,
    distance_matrix_loss,
    pairwise_distances,
    pointwise_loss,
    toma_loss,
    topo_ae_loss,
    topological_alignment_loss,
)
from tomclip_lib.topology.distances import FALLBACK_FRACTION, NORMALIZE_EPS, BatchGeometry, _SparsifiedMatrix
from tomclip_lib.topology.persistence import forest_edges
from tomclip_lib.topology.stable import stable_mean, stable_std

F64 = torch.float64


def _random(n: int, d: int, seed: int, dtype=F64) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _two_points(m: int, d: int, seed: int, dtype=F64) -> torch.Tensor:
    """m copies of a point a, then m copies of b."""
    a, b = _random(2, d, seed, dtype)
    return torch.cat([a.expand(m, d), b.expand(m, d)]).clone()


CLOUDS = {
    "duplicates": lambda: _random(1, 4, 1).expand(10, 4).clone(),  # every row equal
    "two_points": lambda: _two_points(5, 4, 2),
    "zeros": lambda: torch.zeros(10, 4, dtype=F64),  # every distance exactly 0
    "n2": lambda: _random(2, 4, 3),
    "n3": lambda: _random(3, 4, 4),
    "simplex": lambda: torch.eye(5, dtype=F64),  # regular simplex: every distance sqrt 2
    "healthy": lambda: _random(20, 4, 5),
}

LOSSES = {
    "pointwise": pointwise_loss,
    "distance_matrix": distance_matrix_loss,
    **{f"ta_h0_{m}": (lambda m: lambda s, t: topological_alignment_loss(s, t, mode=m, seed=3))(m) for m in MODES},
    "ta_h1": lambda s, t: topological_alignment_loss(s, t, dimension=1),
    "toma": toma_loss,
    "topo_ae": topo_ae_loss,
    "alignment": lambda s, t: AlignmentLoss(
        pointwise=1, distance_matrix=1, topology_h0=1, topology_h1=1, toma=1, topo_ae=1
    )(s, t)[0],
    # The MST-based terms from each engine (the functional forms above take the fused one on the CPU).
    **{
        f"mst_terms_{engine}": (
            lambda engine: (
                lambda s, t: AlignmentLoss(pointwise=0, distance_matrix=1, topology_h0=1, topo_ae=1, engine=engine)(
                    s, t
                )[0]
            )
        )(engine)
        for engine in ("auto", "torch")
    },
}


def _value_and_gradient(loss: str, student: torch.Tensor, teacher: torch.Tensor):
    student = student.clone().requires_grad_()
    value = LOSSES[loss](student, teacher)
    value.backward()
    return value.detach(), student.grad


def _off_diagonal(matrix: torch.Tensor) -> torch.Tensor:
    return matrix[~torch.eye(len(matrix), dtype=torch.bool)]


def _paper_tau(distances: torch.Tensor, s: float = 0.5) -> torch.Tensor:
    """The paper's threshold, with the engine's arithmetic (stable.py), without rule (a)."""
    mean = stable_mean(distances)
    return mean - s * stable_std(distances, mean)


def _geometries(points: torch.Tensor):
    """The three ways BatchGeometry.of builds a batch: no gradient; gradient through the farthest
    pair (_EdgeLengths); the fused differentiable matrix (_SparsifiedMatrix)."""
    return {
        "no_grad": BatchGeometry.of(points, 0.5, True),
        "edge_lengths": BatchGeometry.of(points.clone().requires_grad_(), 0.5, True),
        "fused": BatchGeometry.of(points.clone().requires_grad_(), 0.5, True, differentiable_matrix=True),
    }


@pytest.mark.parametrize("kind", list(CLOUDS))
@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_is_finite_with_finite_gradients(loss, kind):
    cloud = CLOUDS[kind]()
    partner = _random(*cloud.shape, seed=99)
    for student, teacher in ((cloud, partner), (partner, cloud), (cloud, torch.zeros_like(cloud))):
        value, gradient = _value_and_gradient(loss, student, teacher)
        assert torch.isfinite(value), (loss, kind, float(value))
        assert torch.isfinite(gradient).all(), (loss, kind)


@pytest.mark.parametrize("kind", list(CLOUDS))
@pytest.mark.parametrize("loss", list(LOSSES))
def test_a_degenerate_batch_aligned_with_itself_costs_nothing(loss, kind):
    cloud = CLOUDS[kind]()
    value, gradient = _value_and_gradient(loss, cloud, cloud.clone())
    assert float(value) == pytest.approx(0.0, abs=1e-12)
    assert torch.isfinite(gradient).all()


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_an_all_zero_student_against_two_repeated_points_is_bounded(dtype):
    """The fault: the teacher keeps only its zero-length duplicate edges (tau is about |a - b| / 4);
    normalised by their ~0 length, the student's tree edges measured in the teacher's geometry were
    ~1e16. With rule (b) the teacher's scale is |a - b| and the student's 1, so every normalised
    length is at most 1, each squared gap at most 1 and Topo-AE at most 1/2 + 1/2 = 1. Exactly: the
    teacher's own forest edges join duplicates (gap 0), so the value is 1/2 the fraction of the
    student's spanning-tree edges that join a copy of a to a copy of b."""
    teacher = _two_points(25, 8, seed=0, dtype=dtype)
    student = torch.zeros(50, 8, dtype=dtype, requires_grad=True)
    value = topo_ae_loss(student, teacher)
    value.backward()
    assert torch.isfinite(student.grad).all()
    value = value.detach()
    assert float(value) <= 1.0
    edges, kept = forest_edges(BatchGeometry.of(student.detach(), 0.5, True))
    assert bool(kept.all()), "an all-zero batch keeps every edge (all have length 0 = tau)"
    crossing = int(((edges[:, 0] < 25) != (edges[:, 1] < 25)).sum())
    assert float(value) == pytest.approx(0.5 * crossing / 49, rel=1e-5)
    for loss in LOSSES:  # and every other loss is finite on the same pair
        value, gradient = _value_and_gradient(loss, student.detach(), teacher)
        assert torch.isfinite(value) and torch.isfinite(gradient).all(), loss


@pytest.mark.parametrize("kind", ["n2", "simplex"])
def test_an_equidistant_cloud_keeps_every_edge(kind):
    """The paper's tau lies below the common distance (the diagonal zeros pull the mean down and the
    std up); rule (a) raises it to that distance, and every edge is kept."""
    points = CLOUDS[kind]()
    n = len(points)
    for path, geometry in _geometries(points).items():
        smallest = _off_diagonal(geometry.distances).min()
        assert _paper_tau(geometry.distances) < smallest, "premise: the paper's rule keeps no edge"
        assert torch.equal(geometry.threshold, smallest), path
        assert int(geometry.kept.sum()) == n * (n - 1), path
        assert torch.all(
            _off_diagonal(geometry.matrix()).detach() == geometry.distances[0, 1] / geometry.scale.detach()
        )
    matrix = pairwise_distances(points, sparsify=0.5, normalize=True)
    assert torch.isfinite(matrix).all() and torch.allclose(_off_diagonal(matrix), torch.ones(n * (n - 1), dtype=F64))


@pytest.mark.parametrize("n", [3, 4])
def test_tiny_batches_keep_their_shortest_edge(n):
    for seed in range(5):
        points = _random(n, 4, seed)
        for path, geometry in _geometries(points).items():
            off = _off_diagonal(geometry.distances)
            tau = _paper_tau(geometry.distances)
            assert torch.equal(geometry.threshold, torch.maximum(tau, off.min())), path
            kept = _off_diagonal(geometry.kept)
            assert int(kept.sum()) >= 2 and torch.equal(kept, off <= geometry.threshold), path
            if tau < off.min():  # the floor acted: only the shortest edge (both entries; no tie here)
                assert int(kept.sum()) == 2 and bool(kept[off.argmin()])


@pytest.mark.parametrize("kind", ["healthy", "two_points"])
def test_the_paper_threshold_is_unchanged_when_it_is_above_the_shortest_edge(kind):
    """Two distinct points repeated (5 + 5): tau is about |a - b| / 4 > 0, the shortest distance,
    so rule (a) does not act: the 2 * 5 * 4 ordered duplicate pairs are kept, the 50 crossing ones
    removed (and rule (b) then normalises by |a - b|: next test)."""
    points = CLOUDS[kind]()
    for path, geometry in _geometries(points).items():
        tau = _paper_tau(geometry.distances)
        assert tau > _off_diagonal(geometry.distances).min()
        assert torch.equal(geometry.threshold, tau), path  # the paper's bits
        if kind == "two_points":
            same_point = (torch.arange(10)[:, None] < 5) == (torch.arange(10)[None, :] < 5)
            assert torch.equal(geometry.kept, same_point & ~torch.eye(10, dtype=torch.bool)), path


def test_a_healthy_batch_is_normalised_by_its_largest_kept_distance():
    points = CLOUDS["healthy"]()
    for path, geometry in _geometries(points).items():
        peak = geometry.masked.max()
        assert peak >= FALLBACK_FRACTION * _off_diagonal(geometry.distances).max()
        if path == "edge_lengths":  # recomputed from the farthest kept pair's two points
            assert torch.allclose(geometry.scale, peak + NORMALIZE_EPS, rtol=1e-14)
        else:
            assert torch.equal(geometry.scale.detach(), peak + NORMALIZE_EPS), path


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_a_batch_of_duplicates_and_distinct_points_is_normalised_by_its_largest_distance(dtype):
    """Only duplicate pairs are kept (their computed length is 0 or float noise, below 1% of
    |a - b|): the normaliser falls back to the largest distance, |a - b|, so every normalised
    length, kept or not, is at most 1."""
    points = _two_points(5, 4, seed=2, dtype=dtype)
    apart = torch.linalg.vector_norm(points[0] - points[-1])
    for path, geometry in _geometries(points).items():
        assert geometry.masked.max() < FALLBACK_FRACTION * apart, "premise: only duplicates are kept"
        assert torch.allclose(geometry.scale.detach(), apart + NORMALIZE_EPS, rtol=1e-6), path
        lengths = geometry.edge_lengths(torch.tensor([[0, 9], [0, 1], [5, 6]])).detach()
        # at most 1 up to rounding: the scale and the lengths are computed by different formulas
        assert float(lengths.max()) <= 1.0 + 1e-6 and float(lengths[0]) == pytest.approx(1.0, rel=1e-6), path
        assert float(geometry.matrix().detach().max()) <= FALLBACK_FRACTION
        if path != "no_grad":
            geometry.scale.backward()
            assert float(geometry.points.grad.abs().sum()) > 0, "the scale's gradient reaches the farthest pair"


def test_a_batch_of_one_point_is_normalised_by_one():
    """Every distance is exactly 0: the normaliser is 1 + NORMALIZE_EPS (it was NORMALIZE_EPS
    alone), a constant, with gradient 0."""
    for points in (torch.zeros(10, 4, dtype=F64), torch.zeros(10, 4), torch.zeros(1, 4, dtype=F64)):
        for path, geometry in _geometries(points).items():
            assert torch.equal(geometry.scale.detach(), torch.ones((), dtype=points.dtype) + NORMALIZE_EPS), path
            assert torch.all(geometry.matrix() == 0)
            if path != "no_grad":
                (geometry.scale + geometry.matrix().sum()).backward()
                assert torch.all(geometry.points.grad == 0), path


def _near_duplicates() -> torch.Tensor:
    """Three points within ~1e-3 of a, three within ~1e-3 of b: a fallback batch where every
    length is differentiable (the kept edges are the within-cluster ones, 1e-3 < 1% of |a - b|)."""
    centres = _two_points(3, 3, seed=6)
    return centres + 1e-3 * _random(6, 3, seed=7)


@pytest.mark.parametrize("kind", ["healthy", "near_duplicates", "n2", "n3"])
def test_the_fused_backward_is_exact(kind):
    """The fused backward of _SparsifiedMatrix against finite differences, the fallback case
    included (its scale's gradient goes to the farthest pair, a removed edge)."""
    points = (_near_duplicates() if kind == "near_duplicates" else CLOUDS[kind]()[:12]).requires_grad_()
    matrix, scale = _SparsifiedMatrix.apply(points, 0.5, True)[:2]
    largest = _off_diagonal(torch.cdist(points, points)).max()
    if kind == "near_duplicates":
        assert torch.allclose(scale, largest + NORMALIZE_EPS, rtol=1e-12), "premise: the fallback acts"
    assert torch.autograd.gradcheck(lambda p: _SparsifiedMatrix.apply(p, 0.5, True)[:2], (points,), eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss", ["distance_matrix", "ta_h0_exact", "topo_ae", "mst_terms_auto", "mst_terms_torch"])
def test_loss_gradients_are_exact_in_the_fallback_case(loss):
    """The scale's gradient with the student's normaliser falling back to its largest distance: in
    the fused CPU kernel (the functional forms, "mst_terms_auto") and in the torch engine's two
    paths (the fused matrix, the farthest pair's _EdgeLengths; "mst_terms_torch": the terms that
    normalise, on shared geometries). ToMA and graph-H1 have nothing more to check here."""
    student = _near_duplicates().requires_grad_()
    teacher = _random(6, 3, seed=8)
    geometry = BatchGeometry.of(student, 0.5, True)
    assert torch.allclose(geometry.scale, _off_diagonal(geometry.distances).max() + NORMALIZE_EPS, rtol=1e-12)
    assert torch.autograd.gradcheck(lambda s: LOSSES[loss](s, teacher), (student,), eps=1e-6, atol=1e-6)
