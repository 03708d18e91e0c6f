"""The fused CPU kernel of the MST-based terms (tomclip_lib/topology/fused.py) against the torch
engine and finite differences, over the settings a user can choose."""

import pytest
import torch

from tomclip_lib.errors import TomclipError
from tomclip_lib.topology import (
    AlignmentLoss,
    distance_matrix_loss,
    toma_loss,
    topo_ae_loss,
    topological_alignment_loss,
)

SETTINGS = {
    "paper": dict(distance_matrix=1.0, topology_h0=1.0, topo_ae=1.0),
    "two_thresholds": dict(
        distance_matrix=1.0, topology_h0=1.0, topo_ae=1.0, sparsify=0.2, distance_matrix_sparsify=0.8
    ),
    "no_sparsification": dict(
        distance_matrix=1.0, topology_h0=1.0, topo_ae=1.0, sparsify=None, distance_matrix_sparsify=None
    ),
    "p1": dict(topology_h0=1.0, p=1),
    "p3": dict(topology_h0=1.0, topo_ae=0.5, p=3),
    "toma": dict(toma=1.0),
    "toma_signed_h0_only": dict(toma=1.0, toma_absolute=False, toma_h1_weight=0.0),
    "all_fused": dict(pointwise=1.0, distance_matrix=0.5, topology_h0=2.0, topo_ae=1.0, toma=3.0),
}


def pair(n: int = 24, d: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, d, generator=generator, dtype=torch.float64),
        torch.randn(n, d, generator=generator, dtype=torch.float64),
    )


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_the_fused_kernel_agrees_with_the_torch_engine_for_both_batches(setting):
    """Values and the gradients of both batches (a teacher may be trained too), float64."""
    results = []
    for engine in ("auto", "torch"):
        student, teacher = (x.requires_grad_() for x in pair())
        total, terms = AlignmentLoss(**{"pointwise": 0.0, **SETTINGS[setting]}, engine=engine)(student, teacher)
        total.backward()
        results.append((total.detach(), terms, student.grad, teacher.grad))
    (total, terms, grad_s, grad_t), (total_ref, terms_ref, grad_s_ref, grad_t_ref) = results
    assert torch.allclose(total, total_ref, rtol=1e-12)
    assert terms.keys() == terms_ref.keys()
    assert torch.allclose(grad_s, grad_s_ref, rtol=1e-9, atol=1e-12)
    assert torch.allclose(grad_t, grad_t_ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_the_fused_gradients_match_finite_differences(setting):
    student, teacher = pair(n=12, d=4, seed=1)
    loss = AlignmentLoss(**{"pointwise": 0.0, **SETTINGS[setting]})
    assert torch.autograd.gradcheck(
        lambda s, t: loss(s, t)[0], (student.requires_grad_(), teacher.requires_grad_()), eps=1e-6, atol=1e-7
    )


def test_the_functional_forms_take_the_fused_kernel_and_agree_with_the_module():
    student, teacher = pair(n=30, d=6, seed=2)
    _, terms = AlignmentLoss(pointwise=0.0, distance_matrix=1.0, topology_h0=1.0, topo_ae=1.0, toma=1.0)(
        student, teacher
    )
    assert torch.equal(distance_matrix_loss(student, teacher), terms["distance_matrix"])
    assert torch.equal(toma_loss(student, teacher), terms["toma"])
    assert torch.equal(topological_alignment_loss(student, teacher), terms["topology_h0"])
    assert torch.equal(topo_ae_loss(student, teacher), terms["topo_ae"])


def test_the_fused_distances_are_symmetric_with_a_zero_diagonal():
    from tomclip_lib.topology.fused import _distances
    from tomclip_lib.topology.stable import collapse_factor

    points = torch.nn.functional.normalize(pair(n=300, d=64)[0].float(), dim=1)
    distances = _distances((points @ points.T).numpy(), collapse_factor(points))[0]
    assert (distances == distances.T).all() and (distances.diagonal() == 0).all()
    assert torch.allclose(torch.from_numpy(distances), torch.cdist(points, points).fill_diagonal_(0), atol=1e-3)


def test_an_unknown_engine_is_named():
    with pytest.raises(TomclipError, match="Unknown engine 'numba'"):
        AlignmentLoss(engine="numba")


def test_prims_pass_finds_the_normaliser_that_a_pass_of_its_own_finds():
    """The largest kept distance, its pair and the kept count come from Prim's pass when a tree is
    built and from `_peak` otherwise: the same rule (ties: the smallest pair), on clouds full of ties."""
    import numpy as np

    from tomclip_lib.topology.fused import _peak
    from tomclip_lib.topology.persistence import _prim, _prim_and_peak

    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        points = rng.integers(0, 3, size=(n, int(rng.integers(1, 4)))).astype(np.float64)
        distances = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
        tau = float(rng.choice(np.unique(distances)))
        edges, *peak = _prim_and_peak(distances, tau)
        assert tuple(peak) == tuple(_peak(distances, tau))
        assert (edges == _prim(distances)).all()
