"""Mixed-precision batches as a training loop sends them: float16 and bfloat16 points are computed in
float32 (distances.HALF_DTYPES) outside torch.autocast, and the gradient comes back in the input's
dtype; student and teacher of different widths are refused by name where a term needs one width."""

import pytest
import torch

from tomclip_lib.errors import TomclipError
from tomclip_lib.topology import AlignmentLoss

WEIGHTS = dict(pointwise=1.0, distance_matrix=0.5, topology_h0=0.5, topo_ae=0.5, toma=0.5)


def batch(n: int = 48, d: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.nn.functional.normalize(torch.randn(n, d, generator=generator), dim=1) for _ in range(2))


@pytest.mark.parametrize("engine", ["auto", "torch"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_half_precision_batch_is_the_float32_batch_of_its_values(dtype, engine):
    """The same loss bits as the float32 copy of the same values, and that copy's gradient rounded to
    the input's dtype (the teacher is given in float32, as precomputed features are)."""
    student, teacher = batch()
    student = student.to(dtype)
    results = []
    for points in (student.clone(), student.float()):
        points.requires_grad_()
        total, terms = AlignmentLoss(**WEIGHTS, engine=engine)(points, teacher)
        total.backward()
        results.append((total.detach(), terms, points.grad))
    (total, terms, grad), (total_32, terms_32, grad_32) = results
    assert total.dtype == torch.float32 and torch.equal(total, total_32)
    assert all(torch.equal(terms[name], terms_32[name]) for name in terms_32)
    assert grad.dtype == dtype and torch.equal(grad, grad_32.to(dtype))


def test_a_student_head_under_cpu_autocast_trains_on_float32_distances():
    """Under torch.autocast (CPU, bfloat16) the head's output is bfloat16; the loss is the one of that
    output in float32 outside autocast (its matrix products would otherwise run in bfloat16)."""
    student_inputs, teacher = batch(seed=1)
    head = torch.nn.Linear(32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs = head(student_inputs)
        total, _ = AlignmentLoss(**WEIGHTS)(outputs, teacher)
    assert outputs.dtype == torch.bfloat16
    expected, _ = AlignmentLoss(**WEIGHTS)(outputs.detach().float(), teacher)
    assert torch.equal(total.detach(), expected)
    total.backward()
    assert head.weight.grad.dtype == torch.float32 and torch.isfinite(head.weight.grad).all()


@pytest.mark.parametrize(
    "weights, named",
    [
        (dict(pointwise=1.0, topology_h0=0.01), "pointwise term"),
        (dict(pointwise=0.0, toma=1.0), "toma term"),
        (dict(pointwise=1.0, toma=1.0), "pointwise and toma terms"),
    ],
)
def test_unequal_widths_are_refused_by_the_terms_that_need_one_width(weights, named):
    student, teacher = torch.randn(8, 6), torch.randn(8, 4)
    with pytest.raises(TomclipError, match=named):
        AlignmentLoss(**weights)(student, teacher)


def test_the_shape_terms_take_unequal_widths():
    student, teacher = torch.randn(8, 6), torch.randn(8, 4)
    total, terms = AlignmentLoss(pointwise=0.0, distance_matrix=1.0, topology_h0=1.0, topo_ae=1.0)(student, teacher)
    assert torch.isfinite(total) and set(terms) == {"distance_matrix", "topology_h0", "topo_ae"}
