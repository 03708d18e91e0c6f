"""The alignment losses of MCLIP, ToMCLIP, ToMA and the topological autoencoder, as torch functions.

Each loss takes a student batch and a teacher batch (n, d), row i of each embedding the same
caption (or, for ToMA, the same image-text pair), and returns a differentiable scalar.
`AlignmentLoss` combines them with weights and computes each batch's distances and spanning tree
once per step, whatever the number of terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import TomclipError
from .diagrams import death_wasserstein, sliced_constant, sliced_wasserstein, wasserstein_h0
from .distances import BatchGeometry, PointCloud, check_pair, outside_autocast
from .fused import FusedSpec, fused_terms, supports
from .persistence import forest_edges, graph_h1_mask
from .stable import collapse_factor, stable_mse, stable_sqrt, stable_sum

MODES = ("exact", "reference", "diagram")

#: "auto": the fused CPU kernel (fused.py) where it applies, else the torch engine; "torch": always the latter.
ENGINES = ("auto", "torch")

#: The bits of the topological terms in a CPU training step (2: issue 15's fused kernel; 3: issue 31's
#: rules for duplicates, collapsed ToMA pairs and ties, which move the bits of batches that hold an
#: exact duplicate). Part of the cache key of every run with a topological term: a change of bits
#: retrains them.
ENGINE_VERSION = 3

#: The four models of the paper, as weights of AlignmentLoss (paper: lr 1e-5, batch 256).
PAPER_VARIANTS: dict[str, dict[str, float]] = {
    "MCLIP": {"pointwise": 1.0},
    "ToMCLIP(dm)": {"pointwise": 1.0, "distance_matrix": 0.01},
    "ToMCLIP(ta)": {"pointwise": 1.0, "topology_h0": 0.01},
    "ToMCLIP": {"pointwise": 1.0, "distance_matrix": 0.01, "topology_h0": 0.01},
}


@dataclass
class _Side:
    """A batch's geometry and, computed on first use, its spanning forest."""

    geometry: BatchGeometry
    method: str = "auto"
    _forest: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)

    @property
    def forest(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._forest is None:
            self._forest = forest_edges(self.geometry, self.method)
        return self._forest

    def deaths(self) -> tuple[torch.Tensor, torch.Tensor]:
        """H0 deaths of every MST edge (normalised) and the mask of those kept by sparsification."""
        edges, kept = self.forest
        return self.geometry.edge_lengths(edges), kept

    def h1_births(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Graph-H1 births: every pair u < v (normalised length) and the mask of birth edges."""
        mask = graph_h1_mask(self.geometry, *self.forest)
        upper = torch.triu_indices(*mask.shape, offset=1, device=mask.device)
        values = self.geometry.matrix()[upper[0], upper[1]]
        return values, mask[upper[0], upper[1]]


def _fused_path(student: torch.Tensor, teacher: torch.Tensor, method: str = "auto") -> bool:
    """Whether the CPU's fused kernel (fused.py) computes the MST-based terms of this pair."""
    return method in ("auto", "prim") and supports(student) and supports(teacher) and student.dtype == teacher.dtype


def _check_widths(student: torch.Tensor, teacher: torch.Tensor, terms: list[str]) -> None:
    """The terms that compare the two batches coordinate by coordinate need one width: the point-wise
    MSE (point i against point i) and ToMA (cosines between x_i - x_j and y_i - y_j)."""
    if terms and student.shape[1] != teacher.shape[1]:
        several = len(terms) > 1
        raise TomclipError(
            f"Student {tuple(student.shape)} and teacher {tuple(teacher.shape)} differ in width; equal "
            f"widths are needed by the {' and '.join(terms)} term{'s' if several else ''}, which compare "
            "the two batches coordinate by coordinate: map the student to the teacher's embedding "
            f"size, or set {'those weights' if several else 'that weight'} to 0."
        )


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise TomclipError(f"Unknown L_ta mode {mode!r}; choose one of {MODES} (see topological_alignment_loss).")


def _diagram_term(
    student: torch.Tensor,
    teacher: torch.Tensor,
    mask_s: torch.Tensor,
    mask_t: torch.Tensor,
    dimension: int,
    mode: str,
    p: float,
    n_projections: int,
    seed: int | None,
) -> torch.Tensor:
    if mode == "exact":
        return sliced_constant(p) * death_wasserstein(student, teacher, p, mask_s, mask_t)
    if mode == "reference":
        if seed is None:  # new projections at every call, as the reference, but drawn from torch's
            seed = int(torch.randint(0, 2**31 - 1, (1,)))  # generator: reproducible under manual_seed
        zeros_s, zeros_t = torch.zeros_like(student), torch.zeros_like(teacher)
        # H0 points are (0, death); the reference's graph-H1 points are (birth, 0).
        pairs_s = torch.stack([zeros_s, student] if dimension == 0 else [student, zeros_s], dim=1)
        pairs_t = torch.stack([zeros_t, teacher] if dimension == 0 else [teacher, zeros_t], dim=1)
        return sliced_wasserstein(
            pairs_s, pairs_t, n_projections=n_projections, p=p, seed=seed, mask_a=mask_s, mask_b=mask_t
        )
    return wasserstein_h0(student[mask_s], teacher[mask_t], p)


@outside_autocast
def pointwise_loss(student: PointCloud, teacher: PointCloud) -> torch.Tensor:
    """L_pw (MCLIP): mean squared error over all n * d entries."""
    student, teacher = check_pair(student, teacher)
    if student.shape != teacher.shape:
        raise TomclipError(
            f"The point-wise loss compares points one to one: student {tuple(student.shape)} and "
            f"teacher {tuple(teacher.shape)} must have the same dimension (the student's head "
            "maps to the teacher's embedding size)."
        )
    return stable_mse(student, teacher)


@outside_autocast
def distance_matrix_loss(student: PointCloud, teacher: PointCloud, *, sparsify: float | None = 0.5) -> torch.Tensor:
    """L_dm: MSE between the two sparsified, max-normalised distance matrices.

    Following the reference code, a removed edge counts as 0 in this comparison, so an edge kept
    in one batch and removed in the other contributes its full normalised length.
    """
    student, teacher = check_pair(student, teacher)
    if _fused_path(student, teacher):
        return fused_terms(student, teacher, FusedSpec(True, False, False, distance_matrix_sparsify=sparsify))[0]
    return _distance_matrix_term(
        _Side(BatchGeometry.of(student, sparsify, True, True)), _Side(BatchGeometry.of(teacher, sparsify, True, True))
    )


def _distance_matrix_term(student: _Side, teacher: _Side) -> torch.Tensor:
    return stable_mse(student.geometry.matrix(), teacher.geometry.matrix())


@outside_autocast
def topological_alignment_loss(
    student: PointCloud,
    teacher: PointCloud,
    *,
    dimension: int = 0,
    sparsify: float | None = 0.5,
    mode: str = "exact",
    p: float = 2,
    n_projections: int = 50,
    seed: int | None = None,
    method: str = "auto",
) -> torch.Tensor:
    """L_ta: a distance between the persistence diagrams of the two batches.

    dimension 0 compares H0 diagrams {(0, death)} of the sparsified, normalised graphs (the
    paper's term); dimension 1 the reference's graph-H1 births (kept non-tree edges).
    mode:
      "exact"     the limit of the reference's estimate as its projections grow: c_p * W_p between
                  the 1-D distributions of deaths (c_2 = 1/sqrt 2), sort-and-compare, no host sync.
                  The estimate's p-th power has this value's p-th power as its mean; the estimate
                  itself is below it on average (Jensen: 0.12% for 50 projections, p = 2);
      "reference" the reference code: POT sliced Wasserstein of the diagrams as uniform point
                  clouds, `n_projections` random directions, new ones per call (their seed is
                  drawn from torch's generator, so runs repeat under torch.manual_seed) unless `seed`;
      "diagram"   the exact p-Wasserstein distance between persistence diagrams with diagonal
                  matching (gudhi's definition); the matching is found on the host.
    """
    _check_mode(mode)
    if dimension not in (0, 1):
        raise TomclipError(f"dimension must be 0 (H0) or 1 (graph-H1), got {dimension}.")
    student, teacher = check_pair(student, teacher)
    if dimension == 0 and mode == "exact" and _fused_path(student, teacher, method):
        return fused_terms(student, teacher, FusedSpec(False, True, False, sparsify=sparsify, p=float(p)))[1]
    sides = [_Side(BatchGeometry.of(x, sparsify, True, dimension == 1), method) for x in (student, teacher)]
    return _alignment_term(*sides, dimension, mode, p, n_projections, seed)


def _alignment_term(
    student: _Side, teacher: _Side, dimension: int, mode: str, p: float, n_projections: int, seed: int | None
) -> torch.Tensor:
    values_s, mask_s = student.deaths() if dimension == 0 else student.h1_births()
    values_t, mask_t = teacher.deaths() if dimension == 0 else teacher.h1_births()
    return _diagram_term(values_s, values_t, mask_s, mask_t, dimension, mode, p, n_projections, seed)


def _cosines_of_differences(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """C[i, j] = cos(x_i - x_j, y_i - y_j) for all pairs, from Gram matrices (O(n^2 d), no gathers).

    A pair collapsed in both spaces counts as aligned (1; the official code's 0 would make a batch
    aligned with itself cost more than 0); collapsed in one only, as orthogonal (0, as the official).
    Collapsed: squared length within the Gram matrix's rounding bound (stable.collapse_factor).
    """
    return _CosinesOfDifferences.apply(x, y)


class _CosinesOfDifferences(torch.autograd.Function):
    """The pairwise cosines with a hand-written backward: autograd through their dozen n^2 operations
    and six matrix products made ToMA's term the dearest of a training step (issue 15); this backward
    takes two products per side that needs a gradient.

    With dots = (x_i - x_j).(y_i - y_j) = c_ii + c_jj - c_ij - c_ji (c = x y^T), the squared
    lengths q = |x_i - x_j|^2 (r for y) and C = dots / sqrt(q r): G_dots = G_C / sqrt(q r) and
    G_q = -G_C C / (2 q) where C is neither clamped nor collapsed (q above the collapse bound); then, for x,
    dL/dx = (diag(rowsum(H)) - H) y + 2 (rowsum(S) x - S x) with H = G_dots + G_dots^T and
    S = G_q + G_q^T (for y the same with the roles swapped). Sums are row-wise (stable.py).
    """

    @staticmethod
    def forward(ctx, x, y):
        cross = x @ y.T
        diagonal = torch.diagonal(cross)
        dots = diagonal[:, None] + diagonal[None, :] - cross - cross.T
        gram_x, gram_y = x @ x.T, y @ y.T
        norms_x = torch.diagonal(gram_x)[:, None] + torch.diagonal(gram_x)[None, :]
        norms_y = torch.diagonal(gram_y)[:, None] + torch.diagonal(gram_y)[None, :]
        sq_x, sq_y = (norms_x - 2 * gram_x).clamp_min(0), (norms_y - 2 * gram_y).clamp_min(0)
        tiny = torch.finfo(x.dtype).eps
        norms = stable_sqrt(sq_x.clamp_min(tiny) * sq_y.clamp_min(tiny))
        raw = dots / norms
        cosines = raw.clamp(-1, 1)
        collapsed_x = sq_x <= collapse_factor(x) * norms_x  # rounding-independent: stable.collapse_factor
        collapsed_y = sq_y <= collapse_factor(y) * norms_y
        collapsed = collapsed_x | collapsed_y
        cosines = torch.where(collapsed, (collapsed_x & collapsed_y).to(cosines.dtype), cosines)
        # Where the gradient flows: not collapsed, not clamped (clamp passes it inside [-1, 1]).
        live = ~collapsed & (raw >= -1) & (raw <= 1)
        ctx.save_for_backward(x, y, norms, cosines, sq_x, sq_y, live)
        return cosines

    @staticmethod
    def backward(ctx, grad_cosines):
        x, y, norms, cosines, sq_x, sq_y, live = ctx.saved_tensors
        grad = torch.where(live, grad_cosines, 0.0)
        grad_dots = grad / norms
        half = grad * cosines * 0.5
        mixed = grad_dots + grad_dots.T
        mixed_rows = mixed.sum(dim=1, keepdim=True)

        def side(own, other, squared):
            per_pair = -half / squared  # live pairs have squared > eps
            per_pair = torch.where(live, per_pair, 0.0)
            symmetric = per_pair + per_pair.T
            return (mixed_rows * other - mixed @ other) + 2 * (
                symmetric.sum(dim=1, keepdim=True) * own - symmetric @ own
            )

        grad_x = side(x, y, sq_x) if ctx.needs_input_grad[0] else None
        grad_y = side(y, x, sq_y) if ctx.needs_input_grad[1] else None
        return grad_x, grad_y


def _edge_mask(side: _Side, dimension: int) -> torch.Tensor:
    n = len(side.geometry.points)
    if dimension == 1:
        return graph_h1_mask(side.geometry, *side.forest)
    edges, kept = side.forest
    mask = torch.zeros((n, n), dtype=torch.bool, device=edges.device)
    mask[edges.min(dim=1).values, edges.max(dim=1).values] = kept
    return mask


def _misalignment(aligned: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1 - mean of `aligned` (cos or |cos|) over the edges of `mask`; 0 for an empty edge set."""
    weights = mask.to(aligned.dtype)
    count = weights.sum()  # a count: exact in any order
    return (count - stable_sum(weights * aligned)) / count.clamp_min(1)


def _toma_term(x: _Side, y: _Side, h1_weight: float, absolute: bool) -> torch.Tensor:
    cosines = _cosines_of_differences(x.geometry.points, y.geometry.points)
    aligned = cosines.abs() if absolute else cosines  # once for the four edge sets
    loss = (_misalignment(aligned, _edge_mask(x, 0)) + _misalignment(aligned, _edge_mask(y, 0))) / 2
    if h1_weight:
        h1 = (_misalignment(aligned, _edge_mask(x, 1)) + _misalignment(aligned, _edge_mask(y, 1))) / 2
        loss = loss + h1_weight * h1
    return loss


@outside_autocast
def toma_loss(
    x: PointCloud,
    y: PointCloud,
    *,
    sparsify: float | None = 0.5,
    h1_weight: float = 1.0,
    absolute: bool = True,
    scale: float = 1.0,
    method: str = "auto",
) -> torch.Tensor:
    """ToMA: align the directions of difference vectors along each space's salient edges.

    For an edge set E, c(E) = 1 - mean over (i, j) in E of |cos(x_i - x_j, y_i - y_j)|; the
    H0-death edges E0 are each space's sparsified spanning forest, the H1-birth edges E1 its kept
    non-forest edges. Returns scale * ((c(E0_x) + c(E0_y)) / 2 + h1_weight * (c(E1_x) + c(E1_y)) / 2),
    an empty edge set counting c = 0 (the official code drops the whole L_k then: D6 of
    docs/topology-engine.md). absolute=False drops the absolute value, as the ToMA paper's figure
    writes it (the code keeps it).
    """
    x, y = check_pair(x, y)
    _check_widths(x, y, ["toma"])
    if _fused_path(x, y, method):
        spec = FusedSpec(False, False, False, True, sparsify=sparsify, toma_h1_weight=h1_weight, toma_absolute=absolute)
        return scale * fused_terms(x, y, spec)[3]
    return scale * _toma_term(
        _Side(BatchGeometry.of(x, sparsify, False), method),
        _Side(BatchGeometry.of(y, sparsify, False), method),
        h1_weight,
        absolute,
    )


def _topo_ae_term(x: _Side, z: _Side) -> torch.Tensor:
    total = 0.0
    for source in (x, z):
        edges, kept = source.forest
        gap = x.geometry.edge_lengths(edges) - z.geometry.edge_lengths(edges)
        weights = kept.to(gap.dtype)
        total = total + 0.5 * (weights * gap**2).sum() / weights.sum().clamp_min(1)
    return total


@outside_autocast
def topo_ae_loss(
    x: PointCloud, z: PointCloud, *, sparsify: float | None = 0.5, normalize: bool = True, method: str = "auto"
) -> torch.Tensor:
    """Topological autoencoder loss (Moor et al. 2020): match distances along pairing edges.

    The H0 persistence pairings of each space are its spanning-tree edges; the loss is
    1/2 mean over E_x of (d_x - d_z)^2 + 1/2 mean over E_z of (d_z - d_x)^2, with distances
    divided by each batch's normaliser (normalize=True: the largest kept distance, as L_dm and L_ta)
    so that spaces of different scale compare. Means instead of Moor's sums keep its size
    independent of the batch size. E is each space's sparsified forest (H0 edges only);
    sparsify=None gives Moor's full spanning trees. This is not ToMA's "dist" baseline, which
    divides by the largest distance and adds the same term on graph-H1 edges (2% to 29x apart:
    docs/topology-engine.md, D9).
    """
    x, z = check_pair(x, z)
    if normalize and _fused_path(x, z, method):
        return fused_terms(x, z, FusedSpec(False, False, True, sparsify=sparsify))[2]
    return _topo_ae_term(
        _Side(BatchGeometry.of(x, sparsify, normalize), method), _Side(BatchGeometry.of(z, sparsify, normalize), method)
    )


class AlignmentLoss(nn.Module):
    """Weighted sum of the alignment terms; returns (total, {term: unweighted value}) per batch.

    Our weight names, and what the two sources call them (they disagree):

    | ours            | reference code | paper (objective as its figure writes it) |
    |-----------------|----------------|-------------------------------------------|
    | pointwise       | mse_co         | alpha (L_pw)                              |
    | distance_matrix | alpha          | gamma (L_dm)                              |
    | topology_h0     | beta           | beta (L_ta, H0)                           |
    | topology_h1     | gamma          | (not used; 0 in every reported run)       |

    `toma` and `topo_ae` add the ToMA and topological-autoencoder terms (student as x, teacher as
    y). Paper settings: `AlignmentLoss(**PAPER_VARIANTS["ToMCLIP"])`. Each batch's distance
    matrix and spanning tree are computed once and shared by every term that needs them.
    sparsify is the s of the topological terms; the reference's distance-matrix term always used
    s = 0.5 (distance_matrix_sparsify).

    Engines. On the CPU, in float32 or float64, with L_ta in mode "exact" and without graph-H1, L_dm,
    L_ta, Topo-AE and ToMA come from one fused kernel (fused.py: a few compiled passes over each
    batch's distances, lengths measured from the coordinates); everywhere else, and with
    engine="torch", from the torch engine (distances.py), which runs on any device. The two agree
    to float rounding; the fused one is the more accurate in float32 (tests/test_engine_equality.py).
    The functional forms (distance_matrix_loss, ...) take the fused kernel on the same terms.
    """

    def __init__(
        self,
        pointwise: float = 1.0,
        distance_matrix: float = 0.0,
        topology_h0: float = 0.0,
        topology_h1: float = 0.0,
        toma: float = 0.0,
        topo_ae: float = 0.0,
        *,
        sparsify: float | None = 0.5,
        distance_matrix_sparsify: float | None = 0.5,
        mode: str = "exact",
        p: float = 2,
        n_projections: int = 50,
        seed: int | None = None,
        toma_h1_weight: float = 1.0,
        toma_absolute: bool = True,
        mst_method: str = "auto",
        engine: str = "auto",
    ):
        super().__init__()
        _check_mode(mode)
        if engine not in ENGINES:
            raise TomclipError(f"Unknown engine {engine!r}; choose one of {ENGINES} (see AlignmentLoss).")
        self.engine = engine
        self.weights = {
            "pointwise": pointwise,
            "distance_matrix": distance_matrix,
            "topology_h0": topology_h0,
            "topology_h1": topology_h1,
            "toma": toma,
            "topo_ae": topo_ae,
        }
        negative = {k: v for k, v in self.weights.items() if v < 0}
        if negative:
            raise TomclipError(f"Loss weights must be non-negative, got {negative}.")
        self.sparsify, self.distance_matrix_sparsify = sparsify, distance_matrix_sparsify
        self.mode, self.p, self.n_projections, self.seed = mode, p, n_projections, seed
        self.toma_h1_weight, self.toma_absolute, self.mst_method = toma_h1_weight, toma_absolute, mst_method

    def extra_repr(self) -> str:
        active = ", ".join(f"{k}={v:g}" for k, v in self.weights.items() if v)
        return f"{active}, sparsify={self.sparsify}, mode={self.mode!r}"

    @outside_autocast
    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        student, teacher = check_pair(student, teacher)
        w = self.weights
        _check_widths(student, teacher, [name for name in ("pointwise", "toma") if w[name]])
        needs_matrix = bool(w["distance_matrix"] or w["topology_h1"])
        sides: dict[float | None, tuple[_Side, _Side]] = {}

        def side_pair(sparsify: float | None) -> tuple[_Side, _Side]:
            if sparsify not in sides:
                sides[sparsify] = tuple(
                    _Side(BatchGeometry.of(x, sparsify, True, needs_matrix), self.mst_method)
                    for x in (student, teacher)
                )
            return sides[sparsify]

        terms: dict[str, torch.Tensor] = {}
        if w["pointwise"]:
            terms["pointwise"] = stable_mse(student, teacher)
        fused = ("distance_matrix", "topology_h0", "topo_ae", "toma")
        if (
            self.engine == "auto"
            and any(w[name] for name in fused)
            and not w["topology_h1"]
            and (self.mode == "exact" or not w["topology_h0"])
            and _fused_path(student, teacher, self.mst_method)
        ):
            spec = FusedSpec(
                *(bool(w[name]) for name in fused),
                self.distance_matrix_sparsify,
                self.sparsify,
                float(self.p),
                self.toma_h1_weight,
                self.toma_absolute,
            )
            values = fused_terms(student, teacher, spec)
            terms.update((name, value) for name, value in zip(fused, values) if w[name])
            w = {**w, **{name: 0.0 for name in fused}}  # done: the general engine below skips them
        if w["distance_matrix"]:
            terms["distance_matrix"] = _distance_matrix_term(*side_pair(self.distance_matrix_sparsify))
        for dimension, name in ((0, "topology_h0"), (1, "topology_h1")):
            if w[name]:
                terms[name] = _alignment_term(
                    *side_pair(self.sparsify), dimension, self.mode, self.p, self.n_projections, self.seed
                )
        if w["toma"]:
            terms["toma"] = _toma_term(*side_pair(self.sparsify), self.toma_h1_weight, self.toma_absolute)
        if w["topo_ae"]:
            terms["topo_ae"] = _topo_ae_term(*side_pair(self.sparsify))
        if not terms:
            raise TomclipError("AlignmentLoss has no term with a positive weight.")
        weighted = [self.weights[name] * value for name, value in terms.items()]
        total = weighted[0]  # not sum(): its leading 0 + x is one more op forward and backward, x's own bits
        for value in weighted[1:]:
            total = total + value
        return total, {name: value.detach() for name, value in terms.items()}
