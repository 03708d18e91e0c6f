"""Where the engine and the official ToMCLIP / ToMA code differ (issue 31), each decision pinned on a
small hand-built cloud; the table with the official values and the reasons is in
docs/topology-engine.md, "Where the engine differs from the official code". Every case runs in
both engines: the fused CPU kernel (engine "auto") and the torch engine."""

import itertools

import numpy as np
import pytest
import torch

from tomclip_lib.topology import AlignmentLoss, distance_matrix_loss, h0_persistence, toma_loss, topo_ae_loss
from tomclip_lib.topology.distances import NORMALIZE_EPS, BatchGeometry, _SparsifiedMatrix
from tomclip_lib.topology.fused import _distances
from tomclip_lib.topology.losses import _cosines_of_differences
from tomclip_lib.topology.stable import collapse_factor, distance_matrix

F64 = torch.float64
ENGINES = ("auto", "torch")


def points(*rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=F64)


def term(name: str, engine: str, student: torch.Tensor, teacher: torch.Tensor, **options) -> float:
    return float(AlignmentLoss(pointwise=0.0, **{name: 1.0}, **options, engine=engine)(student, teacher)[1][name])


@pytest.mark.parametrize("engine", ENGINES)
def test_d1_a_batch_whose_paper_threshold_is_below_every_edge_keeps_its_shortest_edge(engine):
    """Triangles with sides 1, 2, sqrt 5 and 3, 1, sqrt 10: the paper's tau (about 0.67 and 0.8) is
    below the shortest side, so the official rule keeps no edge and every term is 0. Ours keeps
    the shortest side, normalised to 1, in each: the student's is (0, 1), the teacher's (1, 2), so
    L_dm = 4 entries of (1 / (1 + eps))^2 over 9."""
    student, teacher = points([0, 0], [1, 0], [0, 2]), points([0, 0], [3, 0], [3, 1])
    for cloud, shortest in ((student, (0, 1)), (teacher, (1, 2))):
        geometry = BatchGeometry.of(cloud, 0.5, True)
        kept = torch.zeros(3, 3, dtype=torch.bool)
        kept[shortest], kept[shortest[::-1]] = True, True
        assert torch.equal(geometry.kept, kept)
    assert term("distance_matrix", engine, student, teacher) == pytest.approx(
        4 / 9 / (1 + NORMALIZE_EPS) ** 2, rel=1e-14
    )


def test_d4_a_duplicate_point_dies_at_zero():
    """True Vietoris-Rips H0: two copies of a point merge at 0. The official graph drops an edge whose
    distance is exactly 0, so its copies die at 1 (their distance to the third point)."""
    deaths, _ = h0_persistence(points([0, 0], [0, 0], [1, 0]))
    assert deaths.tolist() == [0.0, 1.0]


def _near_duplicate() -> torch.Tensor:
    """40 points in 512 dimensions with norms ~700; row 7 is row 3 times 1 + 1e-13, a copy that differs
    in its last bits: squared distance ~5e-21, which the Gram matrix's rounding reads as ~1e-10."""
    cloud = 30 * torch.randn(40, 512, generator=torch.Generator().manual_seed(0), dtype=F64)
    cloud[7] = cloud[3] * (1 + 1e-13)
    gram = cloud @ cloud.T
    assert float(gram[3, 3] + gram[7, 7] - 2 * gram[3, 7]) > torch.finfo(F64).eps, "premise: rounding reads a length"
    return cloud


def test_d4_d5_a_pair_within_the_gram_rounding_bound_is_one_point_in_both_engines():
    """The rule does not depend on the last bits: a copy a few ulps away and a Gram matrix carrying
    last-bit noise both read distance exactly 0 (fused kernel and torch engine), and ToMA's cosine
    of the pair, collapsed in both spaces, is 1."""
    cloud = _near_duplicate()
    assert float(distance_matrix(cloud)[3, 7]) == 0.0
    gram = (cloud @ cloud.T).numpy()
    noisy = gram.copy()
    noisy[3, 7] = noisy[7, 3] = np.nextafter(np.nextafter(gram[3, 3], -np.inf), -np.inf)  # two ulps off
    assert noisy[3, 3] + noisy[7, 7] - 2 * noisy[3, 7] > 0, "premise: the noise reads as a positive length"
    for matrix in (gram, noisy):
        assert _distances(matrix, collapse_factor(cloud))[0][3, 7] == 0.0
    other = 5 * torch.randn(40, 512, generator=torch.Generator().manual_seed(1), dtype=F64)
    other[7] = other[3]
    assert float(_cosines_of_differences(cloud, other)[3, 7]) == 1.0


@pytest.mark.parametrize("engine", ENGINES)
def test_d5_a_batch_with_a_near_duplicate_aligned_with_itself_costs_nothing(engine):
    """Official: the pair collapsed in both spaces is cos 0, so ToMA(X, X) > 0 for a batch with a
    duplicate; ours is cos 1, and the value is the one the exact duplicate gives."""
    cloud = _near_duplicate()
    exact = cloud.clone()
    exact[7] = exact[3]
    assert term("toma", engine, cloud, cloud.clone()) == 0.0
    partner = torch.randn(40, 512, generator=torch.Generator().manual_seed(2), dtype=F64)
    assert term("toma", engine, cloud, partner) == pytest.approx(term("toma", engine, exact, partner), rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_d6_an_empty_edge_set_counts_zero_beside_the_other_space(engine):
    """x: four points on a line (a chain: its forest is every kept edge, no graph-H1 edge); y: a unit
    square (three forest edges, one H1 edge, (2, 3)). |cos| on the edges: (0,1) 0, (1,2) 1, (2,3) 0,
    (0,3) 1, so L_0 = ((1 - 1/3) + (1 - 2/3)) / 2 = 1/2 and L_1 = (0 + (1 - 0)) / 2 = 1/2: ToMA = 1.
    The official code returns 0 for L_1 when either side's set is empty: 1/2."""
    x, y = points([0, 0], [1, 0], [2, 0], [3, 0]), points([0, 0], [0, 1], [1, 1], [1, 0])
    assert term("toma", engine, x, y) == pytest.approx(1.0, rel=1e-14)
    assert term("toma", engine, x, y, toma_h1_weight=0.0) == pytest.approx(0.5, rel=1e-14)


@pytest.mark.parametrize("engine", ENGINES)
def test_d9_topo_ae_normalises_by_the_largest_kept_distance_on_the_forests(engine):
    """x = 0, 1, 2, 3 and z = 0, 1, 2, 4 on a line keep their unit edges (rule (a)); both are
    normalised by 1, the largest kept distance. On x's forest the gaps are 0, 0, 1, on z's 0, 0:
    Topo-AE = 1/2 * 1/3 = 1/6. ToMA's "dist" baseline (largest distance, plus graph-H1 edges) gives
    another value; this term is Moor et al.'s H0 pairing loss on the sparsified forests."""
    x, z = points([0], [1], [2], [3]), points([0], [1], [2], [4])
    assert term("topo_ae", engine, x, z) == pytest.approx(1 / 6 / (1 + NORMALIZE_EPS) ** 2, rel=1e-14)
    assert float(topo_ae_loss(x, z, sparsify=None)) != pytest.approx(1 / 6, rel=1e-3)


def _lattice(seed: int) -> torch.Tensor:
    """16 distinct points of the 3 x 3 x 3 integer grid: exact, tied distances in float64."""
    grid = torch.tensor(list(itertools.product(range(3), repeat=3)), dtype=F64)
    return grid[torch.randperm(27, generator=torch.Generator().manual_seed(seed))[:16]]


@pytest.mark.parametrize(
    "weights",
    [
        dict(distance_matrix=1.0),
        dict(topology_h0=1.0),
        dict(topo_ae=1.0),
        dict(toma=1.0),
        dict(distance_matrix=1.0, topology_h0=1.0, topo_ae=1.0, toma=1.0),
    ],
    ids=["dm", "ta", "topo_ae", "toma", "all"],
)
def test_d7_both_engines_agree_at_exact_ties(weights):
    """Lattice clouds (every normaliser tied several times): values and both batches' gradients agree
    to 1e-12; the normaliser's gradient goes to one pair in both (next test)."""
    for seed in range(3):
        results = []
        for engine in ENGINES:
            student, teacher = _lattice(seed).requires_grad_(), _lattice(seed + 10).requires_grad_()
            total, _ = AlignmentLoss(pointwise=0.0, **weights, engine=engine)(student, teacher)
            total.backward()
            results.append((total.detach(), student.grad, teacher.grad))
        for ours, theirs in zip(*results):
            assert torch.allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_d7_the_normaliser_gradient_goes_to_the_first_tied_pair():
    """A 2 x 2 x 2 box with sides 1, 1, 2: eight kept edges of length 1 tie for the normaliser; its
    gradient is that of |p_0 - p_2|, the first tied pair in row order (official: 1/8 to each)."""
    box = torch.tensor(list(itertools.product([0, 1], [0, 1], [0, 2])), dtype=F64).requires_grad_()
    scale = _SparsifiedMatrix.apply(box, 0.5, True)[1]
    (gradient,) = torch.autograd.grad(scale, box)
    expected = torch.zeros(8, 3, dtype=F64)
    expected[0, 1], expected[2, 1] = -1.0, 1.0
    assert torch.equal(gradient, expected)


def test_the_functional_toma_refuses_unequal_widths_by_name():
    from tomclip_lib.errors import TomclipError

    with pytest.raises(TomclipError, match="toma term"):
        toma_loss(torch.zeros(4, 3), torch.zeros(4, 2))
    assert (
        float(distance_matrix_loss(points([0, 0], [1, 0], [0, 2]), points([0], [1], [3]))) >= 0
    )  # needs no equal widths
