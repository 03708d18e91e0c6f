"""Distances of a batch and the paper's sparsification, computed once and shared by every loss.

ToMCLIP sparsifies a batch's complete distance graph before taking persistence: with D the
Euclidean distance matrix (diagonal zeros included), the threshold is tau = mean(D) - s * std(D)
over all n*n entries (unbiased std), s = 0.5 in the paper; edges longer than tau are removed; the
kept distances are then divided by their maximum. A removed edge is *absent* from the graph. It is
never represented as a distance of 0, which would be two identical points: `pairwise_distances`
fills removed entries with +inf by default; the distance-matrix loss, following the reference
code, compares matrices whose removed entries are 0, and says so.

Two rules of ours for degenerate batches, where the paper's would divide by ~0 or keep nothing;
on a healthy batch neither changes a bit:

(a) Threshold floor: tau := max(tau, smallest off-diagonal distance). The diagonal zeros pull tau
    below every edge of an equidistant cloud (n = 2, a regular simplex) and of most small Gaussian
    batches (measured: n <= 12 at d = 64, n <= 32 at d = 512; docs/topology-engine.md, D1), which
    then had no edge at all and every term 0; the floor keeps their shortest edges (all of an
    equidistant cloud's).
(b) Normaliser fallback: the largest kept distance, unless it is below 1% of the batch's largest
    distance (FALLBACK_FRACTION): then no kept edge has a real length, only duplicates (computed
    as 0 or float rounding noise), and dividing by it sent lengths measured elsewhere to ~1e16
    (an all-zero student against a teacher of two repeated points, in the Topo-AE loss). The
    largest distance is used instead, and 1 when every distance is 0; NORMALIZE_EPS is added in
    every case, as before.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import TomclipError
from .stable import broadcast_scalar, distance_matrix, stable_mean, stable_sqrt, stable_std, stable_sum

#: A batch of n points in d dimensions as the public functions take it: an (n, d) tensor (kept on its
#: device, gradients flowing), or a numpy array or nested list that torch.as_tensor reads.
PointCloud = torch.Tensor | np.ndarray | list

#: Added to the normaliser, as the reference code does (an all-zero batch is normalised by 1 + eps: rule (b)).
NORMALIZE_EPS = 1e-8

#: Rule (b): a largest kept distance below this fraction of the batch's largest distance is no real
#: edge (duplicates only); the batch is then normalised by its largest distance.
FALLBACK_FRACTION = 0.01


#: Mixed-precision inputs, computed in float32: a half-precision Gram matrix cannot tell apart
#: points closer than ~1e-2 of their norm, and the compiled kernels take float32 or float64.
HALF_DTYPES = (torch.float16, torch.bfloat16)


def outside_autocast(function):
    """Run a loss with torch.autocast off: inside an autocast region its matrix products would run in
    bfloat16 or float16, whatever the dtype of the points (mixed precision: check_points)."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        with contextlib.ExitStack() as stack:
            for device in ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",):
                stack.enter_context(torch.autocast(device, enabled=False))
            return function(*args, **kwargs)

    return run


def check_points(points: PointCloud, name: str = "points") -> torch.Tensor:
    """A (n, d) floating tensor with n >= 1; NaN and inf are refused on the CPU. float16 and bfloat16
    become float32 (HALF_DTYPES), integers float64.

    On a GPU the finiteness check is skipped: it would force a device-to-host synchronisation in
    every training step. Shapes are always checked (they live on the host).
    """
    if not isinstance(points, torch.Tensor):
        try:
            points = torch.as_tensor(points)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TomclipError(f"{name} must be an (n, d) array of numbers: {error}") from None
    if points.ndim != 2:
        raise TomclipError(f"{name} must be a 2-D (n, d) batch of points, got shape {tuple(points.shape)}.")
    if points.shape[0] == 0:
        raise TomclipError(f"{name} is an empty batch (0 points); a batch needs at least one point.")
    if points.shape[1] == 0:
        raise TomclipError(f"{name} has points of dimension 0; embeddings need at least one coordinate.")
    if not points.is_floating_point():
        points = points.double()
    elif points.dtype in HALF_DTYPES:  # autograd casts the gradient back to the input's dtype
        points = points.float()
    # One reduction instead of an elementwise test: a NaN or inf entry makes the sum non-finite.
    if points.device.type == "cpu" and not torch.isfinite(points.sum()):
        bad = (~torch.isfinite(points)).any(dim=1).nonzero().flatten()[:5].tolist()
        raise TomclipError(f"{name} contains NaN or inf (rows {bad}...); check the encoder's output.")
    return points


def check_pair(student: PointCloud, teacher: PointCloud) -> tuple[torch.Tensor, torch.Tensor]:
    """Two batches of the same shape: row i of each is the same caption."""
    student, teacher = check_points(student, "student"), check_points(teacher, "teacher")
    if student.shape[0] != teacher.shape[0]:
        raise TomclipError(
            f"student and teacher batches differ in size ({student.shape[0]} vs {teacher.shape[0]}); "
            f"row i of each must embed the same caption."
        )
    return student, teacher


def safe_norm(vectors: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Euclidean norm whose gradient at the zero vector is 0, not NaN (duplicate points)."""
    squared = (vectors * vectors).sum(dim=dim)
    return stable_sqrt(squared.clamp_min(torch.finfo(vectors.dtype).tiny))


def raw_distances(points: torch.Tensor) -> torch.Tensor:
    """Euclidean distance matrix with an exact zero diagonal (in float32 a computed one is not)."""
    distances = distance_matrix(points)
    eye = torch.eye(len(points), dtype=torch.bool, device=points.device)
    return distances.masked_fill(eye, 0.0)


def _off_diagonal(distances: torch.Tensor) -> torch.Tensor:
    """The n(n - 1) off-diagonal entries of an (n, n) matrix as an (n - 1, n) view, without a copy:
    the flat matrix minus its first entry, in rows of n + 1, minus each row's last entry (the
    diagonal). Row k holds (k, k+1..n-1) and (k+1, 0..k); flat index 1 + k (n + 1) + c."""
    n = len(distances)
    return distances.reshape(-1)[1:].reshape(n - 1, n + 1)[:, :n]


def sparsity_threshold(distances: torch.Tensor, scale: float, smallest: torch.Tensor | None = None) -> torch.Tensor:
    """The edge cut-off: the paper's tau = mean - scale * std over all n*n entries (unbiased std),
    floored at the smallest off-diagonal distance (rule (a) of the module docstring), so that the
    shortest edges are always kept. `smallest`, when the caller has it, is that minimum."""
    detached = distances.detach()
    if detached.numel() < 2:
        return detached.new_zeros(())
    mean = stable_mean(detached)
    tau = mean - scale * stable_std(detached, mean)  # the same bits for any thread count
    if smallest is None:
        smallest = _off_diagonal(detached).amin(dim=1).min()  # a minimum is exact in any order
    return torch.maximum(tau, smallest)  # tau's own bits whenever tau >= smallest


@dataclass
class BatchGeometry:
    """One batch's distances, sparsification and normaliser, shared by all the losses of a step.

    `matrix()` carries gradient only when built with differentiable_matrix=True (the
    distance-matrix loss and graph-H1 terms need it; `_SparsifiedMatrix` gives it one fused
    backward); `distances`, `weight` and `masked` never do. Edge-based terms recompute their few
    lengths from the points instead, which keeps their backward pass O(k d). `weight` is 1.0 on the edges
    of the (sparsified) graph and 0.0 elsewhere, the diagonal included; `masked` = distances *
    weight. `threshold` is the paper's tau floored at the smallest off-diagonal distance (rule (a)
    of the module docstring: a batch always keeps its shortest edges). `scale` is the normaliser
    when normalising, else 1: the largest kept distance plus NORMALIZE_EPS, or by rule (b) the
    largest distance of the batch when the largest kept one is below FALLBACK_FRACTION of it (only
    duplicates kept: dividing by their ~0 made other edges' lengths explode), and 1 (+ eps) when
    every distance is 0. It carries gradient, taken from the matrix or, when the matrix has none,
    from the chosen pair's two points.

    Speed: every pass over n^2 entries counts (at n = 4096 one costs 5 to 25 ms on two cores), so
    masks are float multiplications (several times faster than torch.where), the farthest pair is
    found row-wise (a flat argmax is single-threaded). The diagonal of `distances` is set to 0
    before the threshold: computed from one matrix product it is up to ~1e-3 in float32 (the
    reference code's torch.cdist keeps that, which moves its tau by ~1e-3 / n). The two rules
    cost two row-wise reductions (the smallest and the largest off-diagonal distance, over a view
    that skips the diagonal) and a few operations on 0-d tensors: torch.where, never a host
    synchronisation.
    """

    points: torch.Tensor
    distances: torch.Tensor  # (n, n)
    weight: torch.Tensor  # (n, n), 1.0 for kept edges, 0.0 for removed ones and the diagonal
    masked: torch.Tensor  # distances * weight
    threshold: torch.Tensor | None
    scale: torch.Tensor
    normalized_matrix: torch.Tensor | None = None  # matrix(), when it carries gradient

    @classmethod
    def of(
        cls, points: torch.Tensor, sparsify: float | None, normalize: bool, differentiable_matrix: bool = False
    ) -> BatchGeometry:
        differentiable = differentiable_matrix and torch.is_grad_enabled() and points.requires_grad
        if differentiable:
            matrix, scale, distances, weight, masked, threshold = _SparsifiedMatrix.apply(points, sparsify, normalize)
            return cls(points, distances, weight, masked, threshold, scale, matrix)
        distances, weight, masked, threshold, largest_rows = _sparsified(points, sparsify, largest=normalize)
        scale = distances.new_ones(())
        if normalize:
            peak_rows = masked.amax(dim=1)  # row-wise first: a flat max is slower
            peak = peak_rows.max()
            largest = peak if largest_rows is None else largest_rows.max()
            fallback, reference = _normaliser(peak, largest)
            if not points.requires_grad:
                scale = reference + NORMALIZE_EPS
            else:  # gradient through the scale, without the n^2 matrix: recompute one distance
                n = len(points)
                row = peak_rows.argmax().reshape(1)
                column = masked.index_select(0, row)[0].argmax().reshape(1)
                if largest_rows is not None:  # the farthest pair, decoded from the off-diagonal view
                    k = largest_rows.argmax().reshape(1)
                    flat = 1 + k * (n + 1) + _off_diagonal(distances).index_select(0, k)[0].argmax()
                    row, column = torch.where(fallback, flat // n, row), torch.where(fallback, flat % n, column)
                length = _EdgeLengths.apply(points, row, column)[0]
                scale = torch.where(largest > 0, length, 1.0) + NORMALIZE_EPS
        return cls(points, distances, weight, masked, threshold, scale)

    @property
    def kept(self) -> torch.Tensor:
        """(n, n) bool: the edges of the (sparsified) graph; never the diagonal."""
        return self.weight > 0

    def matrix(self) -> torch.Tensor:
        """The (sparsified, normalised) matrix; removed edges and the diagonal hold 0."""
        if self.normalized_matrix is not None:
            return self.normalized_matrix
        return self.masked / broadcast_scalar(self.scale, len(self.masked))  # thread-stable gradient

    def edge_lengths(self, edges: torch.Tensor) -> torch.Tensor:
        """Normalised lengths of `edges` (k, 2), recomputed from the points (O(k d) backward)."""
        if edges.numel() == 0:
            return self.points.new_zeros(0)
        return _EdgeLengths.apply(self.points, edges[:, 0], edges[:, 1]) / self.scale


def _normaliser(peak: torch.Tensor, largest: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rule (b), on 0-d tensors without a host synchronisation: (fallback, reference), the scale
    being reference + NORMALIZE_EPS. peak: the largest kept distance; largest: the batch's."""
    fallback = peak < FALLBACK_FRACTION * largest
    reference = torch.where(fallback, largest, peak)  # peak's own bits on a healthy batch
    return fallback, torch.where(largest > 0, reference, 1.0)  # a scalar fill: no ones_like buffer


def _sparsified(points: torch.Tensor, sparsify: float | None, largest: bool = False):
    """distances, weight, masked, threshold of a batch, without gradient (shared by both paths), and
    with `largest` and `sparsify` the row maxima of its off-diagonal view (`_off_diagonal`; without
    sparsify every edge is kept, so the largest kept distance is the largest one), else None."""
    with torch.no_grad():
        distances = distance_matrix(points)  # torch.cdist's value, portable bits (stable.py)
        distances.fill_diagonal_(0.0)  # computed, it is ~1e-3 in float32 and would shift tau
        threshold = largest_rows = None
        if sparsify is None:
            weight = torch.ones_like(distances)
        else:
            smallest = None
            if len(distances) >= 2:  # the diagonal excluded: in float32 a computed one is ~1e-3
                off_diagonal = _off_diagonal(distances)
                smallest = off_diagonal.amin(dim=1).min()
                largest_rows = off_diagonal.amax(dim=1) if largest else None
            threshold = sparsity_threshold(distances, sparsify, smallest)
            weight = torch.le(distances, threshold, out=torch.empty_like(distances))  # straight to float
        weight.fill_diagonal_(0.0)
        return distances, weight, distances * weight, threshold, largest_rows


class _SparsifiedMatrix(torch.autograd.Function):
    """M = (D * W) / scale and scale = r + eps, r = max(D * W) or rule (b)'s fallback (max of the
    off-diagonal D, or the constant 1), differentiable in the points, with one fused backward pass:
    autograd through the dozen elementwise n^2 operations that build M (and its two matrix
    products) took most of a training step's topology cost at n = 256 (issue 15).

    The gradient, from the incoming G_M and g_scale: the scale's total gradient
    g = g_scale - sum(G_M * M) / scale goes to the pair r came from, the first (u < v) in row order
    whose D equals r (none for the constant 1), half to each of its two entries: at exact ties
    the pair the fused kernel picks (autograd's max would spread g over every tied pair; both are
    subgradients, docs/topology-engine.md). A removed edge is longer than tau >= max(D * W), so it
    never equals a kept peak, and a fallback r exceeds every kept distance. With G_D the sum of
    W * G_M / scale and that share of g, A = G_D / D
    (0 where D = 0, as stable_sqrt's gradient) and S = A + A^T, dL/dP = rowsum(S) * P - S P, from
    D_ij^2 = |p_i|^2 + |p_j|^2 - 2 p_i.p_j. One matrix product where autograd takes two; every sum
    is row-wise or a product (stable.py), so the bits do not depend on the thread count.
    """

    @staticmethod
    def forward(ctx, points, sparsify, normalize):
        distances, weight, masked, threshold, largest_rows = _sparsified(points, sparsify, largest=normalize)
        if normalize:
            peak = masked.amax(dim=1).max()
            _, reference = _normaliser(peak, peak if largest_rows is None else largest_rows.max())
            scale = reference + NORMALIZE_EPS
            matrix = masked / broadcast_scalar(scale, len(masked))
        else:
            reference, scale, matrix = None, distances.new_ones(()), masked.clone()
        ctx.save_for_backward(points, distances, weight, masked, matrix, scale)
        ctx.reference = reference
        ctx.mark_non_differentiable(distances, weight, masked, *(() if threshold is None else (threshold,)))
        return matrix, scale, distances, weight, masked, threshold

    @staticmethod
    def backward(ctx, grad_matrix, grad_scale, *unused):
        points, distances, weight, masked, matrix, scale = ctx.saved_tensors
        if grad_matrix is None:  # only the scale was used (edge lengths)
            grad_matrix = torch.zeros_like(matrix)
        # In place after the first product: at n = 4096 every fresh n^2 buffer costs page faults.
        per_distance = grad_matrix / broadcast_scalar(scale, len(matrix))
        per_distance.mul_(weight)
        if ctx.reference is not None:
            total = (0.0 if grad_scale is None else grad_scale) - stable_sum(grad_matrix * matrix) / scale
            # The pair r came from: the first (u < v) in row order equal to r, as the fused kernel and
            # the edge-length path pick it (none for the constant 1); its two entries share g.
            ties = torch.triu(distances == ctx.reference, diagonal=1).reshape(-1)
            first = ties.to(torch.uint8).argmax()  # the first True; no host synchronisation
            u, v = first // len(distances), first % len(distances)
            entries = (torch.stack([u, v]), torch.stack([v, u]))
            share = torch.where(ties[first], total / 2, 0.0)
            per_distance.index_put_(entries, share.expand(2), accumulate=True)
        per_distance.div_(distances).masked_fill_(distances == 0, 0.0)  # 0 where D = 0
        symmetric = per_distance + per_distance.T
        grad_points = symmetric.sum(dim=1, keepdim=True) * points - symmetric @ points
        return grad_points, None, None


class _EdgeLengths(torch.autograd.Function):
    """|p_u - p_v| for k edges, with a backward that adds into the n rows by index_add_: autograd's
    backward of index_select goes through scatter_add_ over (k, d) indices, several times slower on
    the CPU. A duplicate pair (squared length below the smallest normal number) has length exactly
    0 and gradient 0. Not safe_norm's sqrt(tiny) ~ 1e-154: two batches normalised by different
    scales turned those into deaths differing by ~1e-154, whose squared gap has an infinite square
    root gradient (a loss between a duplicates-only batch and an all-zero one)."""

    @staticmethod
    def forward(ctx, points, u, v):
        differences = points.index_select(0, u) - points.index_select(0, v)
        squared = (differences * differences).sum(dim=1)
        apart = squared >= torch.finfo(differences.dtype).tiny
        lengths = stable_sqrt(torch.where(apart, squared, 0.0))  # stable_sqrt(0) = 0
        ctx.save_for_backward(differences, lengths, apart, u, v)
        ctx.rows = len(points)
        return lengths

    @staticmethod
    def backward(ctx, grad_lengths):
        differences, lengths, apart, u, v = ctx.saved_tensors
        # where, not a product: an infinite incoming gradient on a collapsed edge stays out (safe_norm's)
        factor = torch.where(apart, grad_lengths / lengths, 0.0)
        grad_differences = differences * factor[:, None]
        grad_points = differences.new_zeros((ctx.rows, differences.shape[1]))
        grad_points.index_add_(0, u, grad_differences).index_add_(0, v, grad_differences, alpha=-1)
        return grad_points, None, None


@outside_autocast
def pairwise_distances(
    points: PointCloud, *, sparsify: float | None = None, normalize: bool = False, removed: float = float("inf")
) -> torch.Tensor:
    """Euclidean distances of a batch, optionally sparsified and max-normalised as in the paper.

    sparsify: the scale s of the threshold tau = mean(D) - s * std(D), floored at the smallest
        off-diagonal distance (rule (a) of the module docstring; None: keep every edge).
    normalize: divide by the largest kept distance (plus 1e-8, as the reference), or by rule (b)'s
        fallback on a batch that kept only duplicates.
    removed: the value written for removed edges; +inf (no edge) by default, so a removed edge is
        never mistaken for two identical points at distance 0. The diagonal is exactly 0.
    """
    points = check_points(points)
    geometry = BatchGeometry.of(points, sparsify, normalize, differentiable_matrix=True)
    matrix = geometry.matrix()
    if removed != 0.0:
        matrix = matrix.masked_fill(~geometry.kept, removed).fill_diagonal_(0.0)
    return matrix
