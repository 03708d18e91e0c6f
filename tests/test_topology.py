"""The topology engine against gudhi and POT, its gradients, its invariances and its errors."""

import itertools

import gudhi
import gudhi.wasserstein
import numpy as np
import pytest
import torch

from tomclip_lib.errors import TomclipError
from tomclip_lib.topology import (
    MODES,
    PAPER_VARIANTS,
    AlignmentLoss,
    death_wasserstein,
    diagrams,
    distance_matrix_loss,
    graph_h1_births,
    h0_persistence,
    minimum_spanning_tree,
    pairwise_distances,
    persistence_image,
    pointwise_loss,
    sliced_constant,
    sparsification_bound,
    toma_loss,
    topo_ae_loss,
    topological_alignment_loss,
    vietoris_rips_h1,
    wasserstein_h0,
)
from tomclip_lib.topology.distances import raw_distances, sparsity_threshold


def cloud(kind: str, n: int, d: int, seed: int = 0) -> torch.Tensor:
    """Point clouds that stress an MST: generic, clustered, with duplicates, with tied distances."""
    g = torch.Generator().manual_seed(seed)
    if kind == "random":
        return torch.randn(n, d, generator=g, dtype=torch.float64)
    if kind == "clustered":
        centres = 10 * torch.randn(4, d, generator=g, dtype=torch.float64)
        return centres[torch.arange(n) % 4] + 0.1 * torch.randn(n, d, generator=g, dtype=torch.float64)
    if kind == "duplicated":
        base = torch.randn((n + 1) // 2, d, generator=g, dtype=torch.float64)
        return torch.cat([base, base])[:n]
    if kind == "tied":  # integer grid points: many equal distances
        return torch.randint(0, 3, (n, d), generator=g).double()
    raise ValueError(kind)


def gudhi_h0(points: torch.Tensor) -> np.ndarray:
    """gudhi's finite H0 deaths, padded with the zero deaths of duplicate points it leaves out
    (points (0, 0) lie on the diagonal), so that there are n - 1 of them as in h0_persistence."""
    tree = gudhi.RipsComplex(points=points.numpy()).create_simplex_tree(max_dimension=1)
    tree.persistence()
    deaths = tree.persistence_intervals_in_dimension(0)[:, 1]
    deaths = deaths[np.isfinite(deaths)]
    return np.sort(np.concatenate([np.zeros(len(points) - 1 - len(deaths)), deaths]))


CLOUDS = list(itertools.product(["random", "clustered", "duplicated", "tied"], [(5, 2), (40, 3), (120, 16)]))


@pytest.mark.parametrize("kind, shape", CLOUDS, ids=[f"{k}-{n}x{d}" for k, (n, d) in CLOUDS])
def test_h0_equals_gudhi(kind, shape):
    points = cloud(kind, *shape)
    deaths, edges = h0_persistence(points)
    assert deaths.shape == (shape[0] - 1,) and edges.shape == (shape[0] - 1, 2)
    assert torch.all(deaths[1:] >= deaths[:-1]), "deaths come sorted"
    np.testing.assert_allclose(deaths.numpy(), gudhi_h0(points), atol=1e-9)
    lengths = torch.linalg.vector_norm(points[edges[:, 0]] - points[edges[:, 1]], dim=1)
    np.testing.assert_allclose(lengths.numpy(), deaths.numpy(), atol=1e-12)


@pytest.mark.parametrize("kind, shape", CLOUDS, ids=[f"{k}-{n}x{d}" for k, (n, d) in CLOUDS])
def test_boruvka_and_prim_give_the_same_diagram(kind, shape):
    points = cloud(kind, *shape)
    distances = raw_distances(points)
    for method in ("prim", "boruvka"):
        edges = minimum_spanning_tree(distances, method)
        assert edges.shape == (shape[0] - 1, 2)
        tree = torch.linalg.vector_norm(points[edges[:, 0]] - points[edges[:, 1]], dim=1)
        np.testing.assert_allclose(torch.sort(tree).values.numpy(), gudhi_h0(points), atol=1e-9)
        components = set(range(shape[0]))  # a spanning tree connects everything
        parent = list(range(shape[0]))

        def find(a):
            while parent[a] != a:
                a = parent[a]
            return a

        for u, v in edges.tolist():
            ru, rv = find(u), find(v)
            assert ru != rv, f"{method} returned a cycle"
            parent[ru] = rv
        assert len({find(a) for a in components}) == 1


@pytest.mark.parametrize("kind", ["random", "clustered", "tied"])
def test_sparsified_diagram_is_the_full_one_below_the_threshold(kind):
    points = cloud(kind, 60, 5)
    full, _ = h0_persistence(points)
    tau = sparsity_threshold(raw_distances(points), 0.5)
    sparse, edges = h0_persistence(points, sparsify=0.5)
    np.testing.assert_allclose(sparse.numpy(), full[full <= tau].numpy())
    if kind == "clustered":  # Gaussian clouds keep every tree edge; clusters lose their bridges
        assert len(sparse) < len(full)
    normalised, _ = h0_persistence(points, sparsify=0.5, normalize=True)
    np.testing.assert_allclose(
        normalised.numpy(), (sparse / pairwise_distances(points, sparsify=0.5, removed=0).max()).numpy(), rtol=1e-7
    )


def test_removed_edges_are_not_distance_zero():
    points = torch.tensor([[0.0, 0.0], [0.0, 0.0], [5.0, 0.0], [5.0, 1.0]], dtype=torch.float64)
    matrix = pairwise_distances(points, sparsify=0.5)
    assert matrix[0, 1] == 0 and torch.isinf(matrix[0, 2])
    assert pairwise_distances(points, sparsify=0.5, removed=-1.0)[0, 2] == -1.0
    assert torch.all(torch.diagonal(pairwise_distances(torch.randn(300, 64))) == 0), "diagonal exactly 0 in float32"


def test_graph_h1_births_are_the_kept_non_forest_edges():
    points = cloud("random", 30, 4)
    births, edges = graph_h1_births(points, sparsify=0.5, normalize=False)
    matrix = pairwise_distances(points, sparsify=0.5)
    kept_pairs = int(torch.isfinite(matrix).triu(1).sum())
    forest, _ = h0_persistence(points, sparsify=0.5)
    assert len(births) == kept_pairs - len(forest)
    assert torch.all(edges[:, 0] < edges[:, 1])
    np.testing.assert_allclose(births.numpy(), torch.sort(matrix[edges[:, 0], edges[:, 1]]).values.numpy())


def test_vietoris_rips_h1_finds_the_hole_of_a_circle():
    angles = torch.linspace(0, 2 * np.pi, 25)[:-1]
    circle = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1).double()
    intervals = vietoris_rips_h1(circle)
    lifetimes = intervals[:, 1] - intervals[:, 0]
    assert lifetimes.max() > 1.0 and (lifetimes > 0.1).sum() == 1


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("sizes", [(30, 30), (25, 10), (1, 7)])
def test_exact_diagram_wasserstein_equals_gudhi(p, sizes):
    g = torch.Generator().manual_seed(p * 100 + sizes[1])
    a = torch.rand(sizes[0], generator=g, dtype=torch.float64)
    b = 0.5 * torch.rand(sizes[1], generator=g, dtype=torch.float64) ** 2
    ours = float(wasserstein_h0(a, b, p))
    diagram = lambda deaths: np.stack([np.zeros(len(deaths)), deaths.numpy()], axis=1)
    theirs = gudhi.wasserstein.wasserstein_distance(diagram(a), diagram(b), order=p, internal_p=np.inf)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def test_death_wasserstein_equals_pots_exact_1d_transport():
    import ot

    a, b = torch.rand(40, dtype=torch.float64), torch.rand(23, dtype=torch.float64)
    assert float(death_wasserstein(a, b, 2)) == pytest.approx(
        ot.emd2_1d(a.numpy(), b.numpy(), metric="sqeuclidean") ** 0.5
    )
    weights_a, weights_b = torch.rand(40, dtype=torch.float64), torch.rand(23, dtype=torch.float64)
    weights_a[::3] = 0
    weights_a, weights_b = weights_a / weights_a.sum(), weights_b / weights_b.sum()
    for p in (1, 2, 3):
        ours = float(diagrams._transport_1d(a, weights_a, b, weights_b, p))
        assert ours == pytest.approx(float(ot.wasserstein_1d(a, b, weights_a, weights_b, p=p)), rel=1e-12)
    mask = torch.rand(40) > 0.5
    assert float(death_wasserstein(a, b, 2, mask_a=mask)) == pytest.approx(float(death_wasserstein(a[mask], b, 2)))
    empty = torch.zeros(40, dtype=torch.bool)
    assert float(death_wasserstein(a, b, 2, mask_a=empty)) == pytest.approx(
        float(death_wasserstein(torch.zeros(1, dtype=torch.float64), b, 2))
    )


def test_the_reference_modes_square_is_in_expectation_the_exact_square():
    student, teacher = cloud("random", 64, 8, seed=1), cloud("clustered", 64, 8, seed=2)
    exact = float(topological_alignment_loss(student, teacher, mode="exact"))
    draws = [float(topological_alignment_loss(student, teacher, mode="reference", seed=s)) ** 2 for s in range(200)]
    # Each draw averages 50 projections of sin^2 (variance 1/8); 200 draws: relative error ~0.7%.
    assert np.mean(draws) == pytest.approx(exact**2, rel=0.03)
    assert sliced_constant(2) == pytest.approx(2**-0.5)
    assert np.std(draws) > 0, "the reference mode is random without a seed"


LOSSES = {
    "pointwise": lambda s, t: pointwise_loss(s, t),
    "distance_matrix": lambda s, t: distance_matrix_loss(s, t),
    **{f"ta_h0_{m}": (lambda m: lambda s, t: topological_alignment_loss(s, t, mode=m, seed=3))(m) for m in MODES},
    "ta_h1_exact": lambda s, t: topological_alignment_loss(s, t, dimension=1),
    "ta_h1_reference": lambda s, t: topological_alignment_loss(s, t, dimension=1, mode="reference", seed=3),
    "toma": lambda s, t: toma_loss(s, t),
    "toma_signed": lambda s, t: toma_loss(s, t, absolute=False),
    "topo_ae": lambda s, t: topo_ae_loss(s, t),
    "alignment": lambda s, t: AlignmentLoss(**PAPER_VARIANTS["ToMCLIP"], topology_h1=0.1, toma=0.5, topo_ae=0.5)(s, t)[
        0
    ],
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_gradients_match_finite_differences(name):
    student = cloud("random", 12, 3, seed=5).requires_grad_()
    teacher = cloud("clustered", 12, 3, seed=6)
    assert torch.autograd.gradcheck(lambda s: LOSSES[name](s, teacher), (student,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", list(LOSSES))
def test_a_batch_aligned_with_itself_costs_nothing(name):
    points = cloud("random", 20, 4, seed=7).requires_grad_()
    loss = LOSSES[name](points, points.detach().clone())
    assert float(loss) == pytest.approx(0.0, abs=1e-12)
    loss.backward()
    assert torch.isfinite(points.grad).all()


@pytest.mark.parametrize("mode", MODES)
def test_alignment_is_invariant_to_a_joint_permutation(mode):
    student, teacher = cloud("random", 40, 6, seed=8), cloud("clustered", 40, 6, seed=9)
    order = torch.randperm(40, generator=torch.Generator().manual_seed(0))
    before = topological_alignment_loss(student, teacher, mode=mode, seed=1)
    after = topological_alignment_loss(student[order], teacher[order], mode=mode, seed=1)
    assert float(after) == pytest.approx(float(before), rel=1e-9)


def test_toma_sees_directions_not_scale():
    x = cloud("random", 30, 5, seed=10)
    assert float(toma_loss(x, 3 * x + 1)) == pytest.approx(0.0, abs=1e-12)
    assert float(toma_loss(x, -x)) == pytest.approx(0.0, abs=1e-12)
    assert float(toma_loss(x, -x, absolute=False, h1_weight=0)) == pytest.approx(2.0)
    assert float(toma_loss(x, cloud("random", 30, 5, seed=11))) > 0.3


def test_topo_ae_is_zero_for_a_rescaled_copy_and_positive_otherwise():
    x = cloud("random", 30, 5, seed=12)
    assert float(topo_ae_loss(x, 2 * x)) == pytest.approx(0.0, abs=1e-12)
    assert float(topo_ae_loss(x, cloud("clustered", 30, 5))) > 0.01


def test_alignment_loss_reports_each_term_and_computes_each_tree_once(monkeypatch):
    from tomclip_lib.topology import losses, persistence

    student, teacher = cloud("random", 32, 6, seed=13), cloud("random", 32, 6, seed=14)
    calls = []
    original = persistence.minimum_spanning_tree
    monkeypatch.setattr(persistence, "minimum_spanning_tree", lambda *a, **k: calls.append(1) or original(*a, **k))
    loss_fn = AlignmentLoss(**PAPER_VARIANTS["ToMCLIP"], topology_h1=0.2, toma=0.3, topo_ae=0.4)
    total, terms = loss_fn(student, teacher)
    assert len(calls) == 2, "one spanning tree per batch, shared by every term"
    assert terms["pointwise"] == pytest.approx(float(pointwise_loss(student, teacher)))
    assert terms["distance_matrix"] == pytest.approx(float(distance_matrix_loss(student, teacher)))
    assert terms["topology_h0"] == pytest.approx(float(topological_alignment_loss(student, teacher)))
    assert terms["toma"] == pytest.approx(float(toma_loss(student, teacher)))
    expected = sum(loss_fn.weights[k] * float(v) for k, v in terms.items())
    assert float(total) == pytest.approx(expected)
    assert set(terms) == {"pointwise", "distance_matrix", "topology_h0", "topology_h1", "toma", "topo_ae"}
    assert "distance_matrix=0.01" in repr(loss_fn)
    assert losses.PAPER_VARIANTS["MCLIP"] == {"pointwise": 1.0}


@pytest.mark.parametrize("seed", range(8))
def test_theorem_1_bound_holds(seed):
    points = cloud(["random", "clustered"][seed % 2], 50, 1 + seed, seed=seed)
    for eps in (0.0, 0.1, 0.25, 0.5, 0.9, 1.0):
        result = sparsification_bound(points, eps)
        assert result.actual <= result.bar_matching + 1e-12 <= result.bound + 2e-12
        assert 0 <= result.late_deaths <= 49
    assert sparsification_bound(points, 1.0).actual == 0.0


def test_persistence_image_matches_gudhi():
    from gudhi.representations import PersistenceImage

    diagram = torch.tensor([[0.0, 0.3], [0.0, 0.8], [0.1, 0.5]], dtype=torch.float64)
    ours = persistence_image(diagram, resolution=(8, 6), bandwidth=0.1, extent=(0, 1, 0, 1)).numpy()
    theirs = PersistenceImage(
        bandwidth=0.1, weight=lambda x: x[1], resolution=[8, 6], im_range=[0, 1, 0, 1]
    ).fit_transform([diagram.numpy()])[0]
    ratio = theirs / ours.ravel()
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-6)  # equal up to gudhi's normalising constant


@pytest.mark.parametrize(
    "student, teacher, message",
    [
        (torch.full((4, 3), float("nan")), torch.zeros(4, 3), "NaN or inf"),
        (torch.zeros(4, 3), torch.tensor([[float("inf")] * 3] * 4), "NaN or inf"),
        (torch.zeros(4, 3), torch.zeros(5, 3), "differ in size"),
        (torch.zeros(0, 3), torch.zeros(0, 3), "empty batch"),
        (torch.zeros(4), torch.zeros(4), "2-D"),
        (torch.zeros(4, 0), torch.zeros(4, 0), "dimension 0"),
    ],
)
def test_bad_batches_get_clear_errors(student, teacher, message):
    for loss in (
        pointwise_loss,
        distance_matrix_loss,
        topological_alignment_loss,
        toma_loss,
        lambda s, t: AlignmentLoss(**PAPER_VARIANTS["ToMCLIP"])(s, t),
    ):
        with pytest.raises(TomclipError, match=message):
            loss(student, teacher)


def test_mismatched_dimensions_are_refused_by_the_pointwise_terms():
    with pytest.raises(TomclipError, match="same dimension"):
        pointwise_loss(torch.zeros(4, 3), torch.zeros(4, 2))


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("identical", [False, True])
def test_tiny_and_collapsed_batches_have_defined_values(n, identical):
    student = (torch.zeros(n, 3) if identical else torch.randn(n, 3)).double().requires_grad_()
    teacher = torch.randn(n, 3, dtype=torch.float64)
    for mode in MODES:
        total, terms = AlignmentLoss(**PAPER_VARIANTS["ToMCLIP"], topology_h1=1, toma=1, topo_ae=1, mode=mode, seed=0)(
            student, teacher
        )
        total.backward()
        assert torch.isfinite(total) and torch.isfinite(student.grad).all()
        student.grad = None
    collapsed = torch.zeros(10, 4, dtype=torch.float64, requires_grad=True)
    loss = topological_alignment_loss(collapsed, torch.randn(10, 4, dtype=torch.float64))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(collapsed.grad).all()


def test_unknown_options_are_named():
    with pytest.raises(TomclipError, match="Unknown L_ta mode 'fast'"):
        AlignmentLoss(mode="fast")
    with pytest.raises(TomclipError, match="non-negative"):
        AlignmentLoss(topology_h0=-1)
    with pytest.raises(TomclipError, match="no term"):
        AlignmentLoss(pointwise=0)(torch.zeros(3, 2), torch.zeros(3, 2))
    with pytest.raises(TomclipError, match="dimension must be 0"):
        topological_alignment_loss(torch.zeros(3, 2), torch.zeros(3, 2), dimension=2)
    with pytest.raises(TomclipError, match="eps"):
        sparsification_bound(torch.zeros(3, 2), 1.5)


def test_reference_mode_is_random_per_call_but_repeats_under_a_torch_seed():
    student, teacher = cloud("random", 30, 4, seed=1), cloud("random", 30, 4, seed=2)
    torch.manual_seed(5)
    first = [float(topological_alignment_loss(student, teacher, mode="reference")) for _ in range(3)]
    torch.manual_seed(5)
    again = [float(topological_alignment_loss(student, teacher, mode="reference")) for _ in range(3)]
    assert first == again and len(set(first)) == 3


THREAD_CASES = [
    dict(pointwise=1.0),
    dict(pointwise=0.0, distance_matrix=1.0),
    dict(pointwise=0.0, topology_h0=1.0),
    dict(pointwise=0.0, toma=1.0),
    dict(pointwise=0.0, topo_ae=1.0),
    dict(pointwise=0.0, topology_h1=1.0),
    dict(pointwise=1.0, distance_matrix=1.0, topology_h0=1.0, topology_h1=1.0, toma=1.0, topo_ae=1.0),
]


@pytest.mark.parametrize("engine", ["auto", "torch"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("weights", THREAD_CASES, ids=["+".join(w for w in c if c[w]) for c in THREAD_CASES])
def test_losses_and_gradients_do_not_depend_on_the_thread_count(weights, dtype, engine):
    """A full reduction that torch splits across threads rounds differently for 1 and 2 threads; the
    losses reduce row-wise (torch engine) or in one compiled loop (fused) so that a trained run is
    the same on any machine (numerics.env). Graph-H1's diagrams (~n^2 / 4 births) are past the split."""
    generator = torch.Generator().manual_seed(3)
    student = torch.randn(256, 64, generator=generator, dtype=dtype)  # 256^2 = 65,536: above torch's grain
    teacher = torch.nn.functional.normalize(torch.randn(256, 64, generator=generator, dtype=dtype), dim=1)
    results = []
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            points = student.clone().requires_grad_()
            total, _ = AlignmentLoss(**weights, engine=engine)(points, teacher)
            total.backward()
            results.append((total.detach(), points.grad))
    finally:
        torch.set_num_threads(before)
    (loss_1, grad_1), (loss_2, grad_2) = results
    assert torch.equal(loss_1, loss_2) and torch.equal(grad_1, grad_2)


def test_stable_arithmetic_matches_torch():
    from tomclip_lib.topology.stable import (
        distance_matrix,
        stable_mean,
        stable_mse,
        stable_sqrt,
        stable_std,
        stable_sum,
    )

    values = torch.randn(300, 301, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    other = torch.randn(300, 301, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.allclose(stable_sum(values), values.sum())
    assert torch.allclose(stable_mean(values), values.mean())
    assert torch.allclose(stable_std(values), values.std())
    assert torch.allclose(stable_mse(values, other), torch.nn.functional.mse_loss(values, other))
    assert stable_sum(torch.ones(5)).item() == 5.0 and stable_sum(torch.ones(70_001)).item() == 70_001.0
    squares = torch.tensor([0.0, 1e-30, 2.0, 9.0, 1e20], dtype=torch.float64, requires_grad=True)
    roots = stable_sqrt(squares)
    assert torch.allclose(roots, torch.sqrt(squares.detach()), rtol=1e-15) and roots[0] == 0 and roots[3] == 3
    roots.sum().backward()
    assert squares.grad[0] == 0 and torch.allclose(squares.grad[1:], 0.5 / torch.sqrt(squares.detach()[1:]))
    points = torch.randn(40, 7, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert torch.allclose(distance_matrix(points), torch.cdist(points, points), atol=1e-7)


def autograd_alignment(student: torch.Tensor, teacher: torch.Tensor, sparsify: float = 0.5) -> torch.Tensor:
    """L_dm + L_ta(H0, exact) + Topo-AE spelled out with plain autograd on the same primitives: the
    engine's hand-written backward passes (distances.py) must give the gradients autograd gives."""
    from tomclip_lib.topology.distances import NORMALIZE_EPS
    from tomclip_lib.topology.stable import distance_matrix, stable_sqrt

    def side(x):
        distances = distance_matrix(x)
        detached = distances.detach().clone().fill_diagonal_(0.0)  # the definition's diagonal
        weight = (detached <= sparsity_threshold(detached, sparsify)).to(x.dtype).fill_diagonal_(0.0)
        masked = distances * weight
        scale = masked.amax(dim=1).max() + NORMALIZE_EPS
        edges = minimum_spanning_tree(detached)
        return masked / scale, edges, weight[edges[:, 0], edges[:, 1]] > 0, scale

    def lengths(x, edges, scale):
        differences = x[edges[:, 0]] - x[edges[:, 1]]
        return stable_sqrt((differences * differences).sum(dim=1)) / scale

    (matrix_s, edges_s, kept_s, scale_s), (matrix_t, edges_t, kept_t, scale_t) = side(student), side(teacher)
    dm = ((matrix_s - matrix_t) ** 2).mean()
    ta = sliced_constant(2) * death_wasserstein(
        lengths(student, edges_s, scale_s), lengths(teacher, edges_t, scale_t), 2, kept_s, kept_t
    )
    topo_ae = sum(
        0.5 * ((lengths(student, e, scale_s) - lengths(teacher, e, scale_t)) ** 2 * k).sum() / k.sum()
        for e, k in ((edges_s, kept_s), (edges_t, kept_t))
    )
    return dm + ta + topo_ae


#: Measured relative error (gradient norm) of each engine in float32 at n = 256, d = 512 against
#: float64 truth: fused ~1e-7 (lengths from the coordinates, float64 sums), torch ~1e-4.
FLOAT32_TOLERANCE = {"auto": 1e-6, "torch": 1e-3}


@pytest.mark.parametrize("engine", ["auto", "torch"])
@pytest.mark.parametrize("dtype, n, d", [(torch.float64, 40, 6), (torch.float32, 256, 512)])
def test_both_engines_give_autograds_gradients(engine, dtype, n, d):
    """Issue 15's equality: the fused CPU kernel ("auto") and the torch engine's hand-written
    backward passes give the values and gradients of plain autograd through the definitions,
    taken in float64 as the truth, at the paper's batch and dimension in float32."""
    generator = torch.Generator().manual_seed(n)
    student = torch.nn.functional.normalize(torch.randn(n, d, generator=generator, dtype=dtype), dim=1)
    teacher = torch.nn.functional.normalize(torch.randn(n, d, generator=generator, dtype=dtype), dim=1)
    loss = AlignmentLoss(pointwise=0.0, distance_matrix=1.0, topology_h0=1.0, topo_ae=1.0, engine=engine)
    results = []
    for compute, points in (
        (lambda s: loss(s, teacher)[0], student.clone()),
        (lambda s: autograd_alignment(s, teacher.double()), student.double()),
    ):
        points.requires_grad_()
        value = compute(points)
        value.backward()
        results.append((value.detach().double(), points.grad.double()))
    (engine_loss, engine_grad), (true_loss, true_grad) = results
    tolerance = 1e-12 if dtype == torch.float64 else FLOAT32_TOLERANCE[engine]
    assert torch.allclose(engine_loss, true_loss, rtol=tolerance)
    assert float((engine_grad - true_grad).norm() / true_grad.norm()) < tolerance


def test_the_fused_cosines_of_toma_give_autograds_gradients():
    """ToMA's pairwise cosines have a hand-written backward (losses.py); plain autograd through the
    same formula gives the same gradients for both spaces, collapsed and clamped pairs included."""
    from tomclip_lib.topology.losses import _cosines_of_differences

    def plain(x, y):
        differences_x, differences_y = x[:, None] - x[None, :], y[:, None] - y[None, :]
        dots = (differences_x * differences_y).sum(-1)
        sq_x, sq_y = (differences_x**2).sum(-1), (differences_y**2).sum(-1)
        tiny = torch.finfo(x.dtype).eps
        cosines = (dots / (sq_x.clamp_min(tiny) * sq_y.clamp_min(tiny)).sqrt()).clamp(-1, 1)
        collapsed_x, collapsed_y = sq_x <= tiny, sq_y <= tiny
        return torch.where(collapsed_x | collapsed_y, (collapsed_x & collapsed_y).to(x.dtype), cosines)

    x, y = cloud("random", 30, 5, seed=20), cloud("random", 30, 5, seed=21)
    x[3], y[3], x[7] = x[4], y[4], x[8]  # a pair collapsed in both spaces, one collapsed in x only
    y[10] = y[11] + 1e-9 * (x[10] - x[11])  # nearly parallel differences: a cosine at the clamp
    weights = torch.rand(30, 30, generator=torch.Generator().manual_seed(22), dtype=torch.float64)
    gradients = []
    for cosines_of in (_cosines_of_differences, plain):
        a, b = x.clone().requires_grad_(), y.clone().requires_grad_()
        (weights * cosines_of(a, b).abs()).sum().backward()
        gradients.append((a.grad, b.grad))
    for fused, reference in zip(*gradients):
        assert torch.allclose(fused, reference, rtol=1e-9, atol=1e-12)
