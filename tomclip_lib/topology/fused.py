"""The terms of a training step on the CPU, fused: L_dm, L_ta (H0, mode "exact"), Topo-AE and ToMA.

The torch engine (distances.py, losses.py) builds these terms from torch operations, which run on
any device; on the CPU, at the batch sizes people train with (n = 128 to 512), its ~300 small
tensor operations per step cost more than the matrix products a step cannot avoid (issue 15).
Here a batch costs one matrix product (its Gram matrix) and three compiled passes over its n^2
distances (the distances with their sums; Prim's tree, which also finds the normaliser; the
terms), and the backward pass one matrix product per dense term (L_dm, ToMA) for each batch that
needs a gradient.

Same definitions as the torch engine (distances.py's module docstring: the paper's threshold,
rules (a) and (b), NORMALIZE_EPS; losses.py for the terms), with differences of rounding only:
- distances come from the Gram matrix and its own diagonal, D_ij = sqrt(g_ii + g_jj - 2 g_ij)
  with the bracket in float64, once per unordered pair: D is exactly symmetric with an exactly
  zero diagonal. They decide the graph (threshold, tree, kept edges) and enter L_dm and ToMA;
- the lengths a diagram is made of (tree edges, the normaliser's pair) are measured from the
  coordinates in float64, as the torch engine's _EdgeLengths: D's rounding (~1e-6 in float32)
  would move L_ta's gradient by up to 1e-3, where the torch engine is ~1e-4 and this one ~1e-7
  from float64 (tests/test_topology.py);
- sums (the threshold's mean and variance, every term) are float64 in one fixed order, and the
  W_p plan between two uniform death distributions is exact (masses counted in units of
  1 / (k_a k_b)): the same bits for any thread count.
numba compiles for a generic x86-64 target (numerics.env) without fast-math, and sqrt is a
correctly rounded instruction, so the bits do not depend on the CPU's vendor either.

Gradients: a dense term gives G_D = dL/dD, and with A = G_D / D (0 where D = 0), S = A + A^T,
dL/dP = rowsum(S) P - S P (one matrix product); a length measured from the coordinates adds
dL/dlength (p_u - p_v) / length to row u and its opposite to row v. tests/test_fused.py checks
both batches' gradients against the torch engine and by finite differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import torch
from torch.autograd.function import once_differentiable

from .diagrams import sliced_constant
from .distances import FALLBACK_FRACTION, NORMALIZE_EPS
from .persistence import _prim_and_peak
from .stable import collapse_factor


@numba.njit(cache=True, nogil=True)
def _distances(gram, collapse):  # pragma: no cover - compiled; tested through fused_terms
    """D from a Gram matrix, one unordered pair at a time (exactly symmetric, zero diagonal, 0 for a
    pair collapsed by stable.collapse_factor, `collapse`), with what every threshold needs, in the
    same pass: the sum and the sum of squares of the n^2 entries, the smallest off-diagonal entry,
    the largest and its first pair in row order."""
    n = gram.shape[0]
    distances = np.empty((n, n), dtype=gram.dtype)
    total = squares = 0.0
    smallest, largest, far_u, far_v = np.inf, 0.0, -1, -1
    for i in range(n):
        g_ii = np.float64(gram[i, i])
        distances[i, i] = 0.0
        for j in range(i + 1, n):
            g_jj = np.float64(gram[j, j])
            squared = g_ii + g_jj - 2.0 * np.float64(gram[i, j])
            distances[i, j] = math.sqrt(squared) if squared > collapse * (g_ii + g_jj) else 0.0
            distances[j, i] = distances[i, j]
            value = np.float64(distances[i, j])
            total += value
            squares += value * value
            smallest = min(smallest, value)
            if value > largest:
                largest, far_u, far_v = value, i, j
    return distances, 2.0 * total, 2.0 * squares, smallest, largest, far_u, far_v


@numba.njit(cache=True, nogil=True)
def _peak(distances, tau):  # pragma: no cover - compiled; tested through fused_terms
    """The largest distance <= tau and its first pair in row order (0, -1, -1 if none is positive),
    and how many pairs are kept."""
    n = distances.shape[0]
    peak, peak_u, peak_v, kept = 0.0, -1, -1, 0
    for i in range(n):
        for j in range(i + 1, n):
            value = np.float64(distances[i, j])
            if value <= tau:
                kept += 1
                if value > peak:
                    peak, peak_u, peak_v = value, i, j
    return peak, peak_u, peak_v, kept


@numba.njit(cache=True, nogil=True)
def _pair_lengths(points, pairs):  # pragma: no cover - compiled; tested through fused_terms
    """|p_u - p_v| of each pair from the coordinates, summed in float64 (four running sums, in a
    fixed order): the lengths the diagrams and the normaliser use. The Gram matrix's distances
    carry its rounding, ~1e-6 in float32, which moved L_ta's gradient by up to 1e-3."""
    lengths = np.empty(pairs.shape[0])
    d = points.shape[1]
    for e in range(pairs.shape[0]):
        a, b = points[pairs[e, 0]], points[pairs[e, 1]]
        s0 = s1 = s2 = s3 = 0.0
        k = 0
        while k + 4 <= d:
            g0 = np.float64(a[k]) - np.float64(b[k])
            g1 = np.float64(a[k + 1]) - np.float64(b[k + 1])
            g2 = np.float64(a[k + 2]) - np.float64(b[k + 2])
            g3 = np.float64(a[k + 3]) - np.float64(b[k + 3])
            s0 += g0 * g0
            s1 += g1 * g1
            s2 += g2 * g2
            s3 += g3 * g3
            k += 4
        while k < d:
            g0 = np.float64(a[k]) - np.float64(b[k])
            s0 += g0 * g0
            k += 1
        lengths[e] = math.sqrt((s0 + s1) + (s2 + s3))
    return lengths


@numba.njit(cache=True, nogil=True)
def _transport(a, b, p):  # pragma: no cover - compiled; tested through fused_terms
    """W_p^p between the uniform distributions of a and b (an empty one is the point 0), and its
    gradient in each entry. Masses are counted in units of 1 / (k_a k_b): the plan is exact."""
    values_a = np.zeros(1) if len(a) == 0 else a
    values_b = np.zeros(1) if len(b) == 0 else b
    order_a = np.argsort(values_a, kind="mergesort")
    order_b = np.argsort(values_b, kind="mergesort")
    k_a, k_b = len(values_a), len(values_b)
    grad_a, grad_b = np.zeros(k_a), np.zeros(k_b)
    left_a, left_b = k_b, k_a  # units of mass left in the current atom of each side
    i = j = 0
    cost = 0.0
    units = float(k_a * k_b)
    while i < k_a and j < k_b:
        step = min(left_a, left_b)
        width = step / units
        gap = values_a[order_a[i]] - values_b[order_b[j]]
        if p == 2.0:
            cost += width * gap * gap
            slope = width * 2.0 * gap
        else:
            cost += width * abs(gap) ** p
            slope = width * p * abs(gap) ** (p - 1.0) * np.sign(gap)
        grad_a[order_a[i]] += slope
        grad_b[order_b[j]] -= slope
        left_a -= step
        left_b -= step
        if left_a == 0:
            i += 1
            left_a = k_b
        if left_b == 0:
            j += 1
            left_b = k_a
    return cost, grad_a[: len(a)], grad_b[: len(b)]


@numba.njit(cache=True, nogil=True)
def _matrix_mse(d_a, tau_a, scale_a, d_b, tau_b, scale_b, want_a, want_b):  # pragma: no cover - compiled
    """L_dm, the mean over all n^2 entries of (M_a - M_b)^2 with M = D [D <= tau] / scale, and in
    the same pass, for each batch that wants it, its gradient's dense part at a unit incoming
    gradient: S = A + A^T with A = G_D / D, the row sums of S, and the normaliser's gradient."""
    n = d_a.shape[0]
    size_a, size_b = (n if want_a else 0), (n if want_b else 0)
    s_a, s_b = np.zeros((size_a, size_a), dtype=d_a.dtype), np.zeros((size_b, size_b), dtype=d_b.dtype)
    rows_a, rows_b = np.zeros(size_a), np.zeros(size_b)
    scale_grad_a = scale_grad_b = total = 0.0
    factor = 2.0 / (n * n)
    for i in range(n):
        for j in range(i + 1, n):
            u, v = np.float64(d_a[i, j]), np.float64(d_b[i, j])
            m_a = u / scale_a if u <= tau_a else 0.0
            m_b = v / scale_b if v <= tau_b else 0.0
            gap = m_a - m_b
            total += 2.0 * gap * gap  # (i, j) and (j, i)
            if want_a and m_a > 0.0:  # G_M_ij = factor * gap on both entries; none where D = 0
                scale_grad_a -= 2.0 * factor * gap * m_a / scale_a
                value = 2.0 * factor * gap / scale_a / u
                s_a[i, j] = s_a[j, i] = value
                rows_a[i] += value
                rows_a[j] += value
            if want_b and m_b > 0.0:
                scale_grad_b += 2.0 * factor * gap * m_b / scale_b
                value = -2.0 * factor * gap / scale_b / v
                s_b[i, j] = s_b[j, i] = value
                rows_b[i] += value
                rows_b[j] += value
    return (total / (n * n), s_a, rows_a.astype(d_a.dtype), scale_grad_a, s_b, rows_b.astype(d_b.dtype), scale_grad_b)


@numba.njit(cache=True, nogil=True)
def _add_pair_gradients(grad, points, pairs, pair_grads, pair_lengths):  # pragma: no cover - compiled
    """grad += dL/dP of lengths |p_u - p_v| measured from the coordinates, given dL/d(length) of
    each pair: (p_u - p_v) / length times it on u, minus that on v (0 for a duplicate pair)."""
    for e in range(pairs.shape[0]):
        if pair_grads[e] != 0.0 and pair_lengths[e] > 0.0:
            weight = pair_grads[e] / pair_lengths[e]
            a, b = pairs[e, 0], pairs[e, 1]
            for k in range(points.shape[1]):
                step = weight * (np.float64(points[a, k]) - np.float64(points[b, k]))
                grad[a, k] += step
                grad[b, k] -= step


@numba.njit(cache=True, nogil=True)
def _toma(
    gram_x,
    gram_y,
    cross,
    d_x,
    tau_x,
    edges_x,
    kept_x,
    pairs_x,
    d_y,
    tau_y,
    edges_y,
    kept_y,
    pairs_y,
    h1_weight,
    absolute,
    tiny,
    collapse,
    want_x,
    want_y,
):  # pragma: no cover - compiled; tested through fused_terms
    """ToMA's term (losses.toma_loss) and, for each batch that wants it, its gradient's dense parts
    at a unit incoming gradient. With C_ij = cos(x_i - x_j, y_i - y_j) from the Gram matrices
    (losses._CosinesOfDifferences, whose conventions for collapsed and clamped pairs it keeps), the
    term is sum_E 0.5 h_E (1 - mean_E |C|) over E0 (kept forest edges) and E1 (kept non-forest
    edges) of each batch, h_E = 1 for E0 and h1_weight for E1, an empty E counting 0. Returns
    (loss, H, rows H, S_x, rows S_x, S_y, rows S_y): dL/dx = rowsum(H) y - H y + 2 (rowsum(S_x) x
    - S_x x), and the same with x and y swapped. A pair is collapsed in a space where its squared
    length is at most `collapse` (|p_i|^2 + |p_j|^2) (stable.collapse_factor); `tiny`, the dtype's
    eps, floors the norms."""
    n = d_x.shape[0]
    forest = np.zeros((n, n), dtype=np.uint8)  # bit 0: in E0 of x, bit 1: in E0 of y (upper triangle)
    for e in range(edges_x.shape[0]):
        if kept_x[e]:
            forest[min(edges_x[e, 0], edges_x[e, 1]), max(edges_x[e, 0], edges_x[e, 1])] |= 1
    for e in range(edges_y.shape[0]):
        if kept_y[e]:
            forest[min(edges_y[e, 0], edges_y[e, 1]), max(edges_y[e, 0], edges_y[e, 1])] |= 2
    e0_x, e0_y = kept_x.sum(), kept_y.sum()
    e1_x, e1_y = pairs_x - e0_x, pairs_y - e0_y
    share = np.array(
        [0.5 / max(e0_x, 1), 0.5 / max(e0_y, 1), 0.5 * h1_weight / max(e1_x, 1), 0.5 * h1_weight / max(e1_y, 1)]
    )
    loss = 0.5 * ((e0_x > 0) + (e0_y > 0) + h1_weight * ((e1_x > 0) + (e1_y > 0)))
    want = want_x or want_y
    size = n if want else 0
    h = np.zeros((size, size), dtype=d_x.dtype)
    rows_h = np.zeros(size)
    size_x, size_y = (n if want_x else 0), (n if want_y else 0)
    s_x, s_y = np.zeros((size_x, size_x), dtype=d_x.dtype), np.zeros((size_y, size_y), dtype=d_x.dtype)
    rows_x, rows_y = np.zeros(size_x), np.zeros(size_y)
    for i in range(n):
        for j in range(i + 1, n):
            in_forest = forest[i, j]
            weight = 0.0
            if in_forest & 1:
                weight += share[0]
            elif d_x[i, j] <= tau_x:
                weight += share[2]
            if in_forest & 2:
                weight += share[1]
            elif d_y[i, j] <= tau_y:
                weight += share[3]
            if weight == 0.0:
                continue
            dots = np.float64(cross[i, i]) + np.float64(cross[j, j]) - np.float64(cross[i, j]) - np.float64(cross[j, i])
            q_x = max(np.float64(gram_x[i, i]) + np.float64(gram_x[j, j]) - 2.0 * np.float64(gram_x[i, j]), 0.0)
            q_y = max(np.float64(gram_y[i, i]) + np.float64(gram_y[j, j]) - 2.0 * np.float64(gram_y[i, j]), 0.0)
            norm = math.sqrt(max(q_x, tiny) * max(q_y, tiny))
            raw = dots / norm
            collapsed_x = q_x <= collapse * (np.float64(gram_x[i, i]) + np.float64(gram_x[j, j]))
            collapsed_y = q_y <= collapse * (np.float64(gram_y[i, i]) + np.float64(gram_y[j, j]))
            if collapsed_x or collapsed_y:
                cosine = 1.0 if (collapsed_x and collapsed_y) else 0.0
            else:
                cosine = min(max(raw, -1.0), 1.0)
            loss -= weight * (abs(cosine) if absolute else cosine)
            if not want or collapsed_x or collapsed_y or raw < -1.0 or raw > 1.0:
                continue  # no gradient: constant, or clamped
            grad = -weight * ((1.0 if cosine > 0 else -1.0 if cosine < 0 else 0.0) if absolute else 1.0)
            value = grad / norm
            h[i, j] = h[j, i] = value
            rows_h[i] += value
            rows_h[j] += value
            half = grad * cosine * 0.5
            if want_x:
                value = -half / q_x
                s_x[i, j] = s_x[j, i] = value
                rows_x[i] += value
                rows_x[j] += value
            if want_y:
                value = -half / q_y
                s_y[i, j] = s_y[j, i] = value
                rows_y[i] += value
                rows_y[j] += value
    return (loss, h, rows_h.astype(d_x.dtype), s_x, rows_x.astype(d_x.dtype), s_y, rows_y.astype(d_x.dtype))


@dataclass(frozen=True)
class FusedSpec:
    """Which terms to compute and their settings: the s of each geometry (None: keep every edge),
    p the Wasserstein order of L_ta, ToMA's weight of its H1 edges and whether it takes |cos|."""

    distance_matrix: bool
    topology_h0: bool
    topo_ae: bool
    toma: bool = False
    distance_matrix_sparsify: float | None = 0.5
    sparsify: float | None = 0.5
    p: float = 2.0
    toma_h1_weight: float = 1.0
    toma_absolute: bool = True


def supports(points: torch.Tensor) -> bool:
    """Whether a batch can take the fused path: on the CPU, float32 or float64."""
    return points.device.type == "cpu" and points.dtype in (torch.float32, torch.float64)


class _Geometry:
    """A sparsification of a batch: tau, and the normaliser scale = |p_u - p_v| + eps measured on its
    pair, or 1 + eps when every distance is 0. `peak` is (the largest distance <= tau, its pair u,
    v, how many pairs are kept), from `_peak` or from Prim's pass."""

    def __init__(self, batch: _Batch, tau: float, peak: tuple[float, int, int, int]):
        largest, far_u, far_v = batch.statistics[3:]
        value, u, v, self.kept_pairs = peak
        self.tau = tau
        pair = (far_u, far_v) if value < FALLBACK_FRACTION * largest else (u, v)  # rule (b)
        self.pair = np.array([pair], dtype=np.int64) if largest > 0 else np.zeros((0, 2), dtype=np.int64)
        self.length = float(_pair_lengths(batch.coordinates, self.pair)[0]) if len(self.pair) else 1.0
        self.scale = self.length + NORMALIZE_EPS


class _Batch:
    """One batch's Gram matrix, distances, geometries (one per threshold its terms use), spanning
    tree and which of the tree's edges are kept (the forest)."""

    def __init__(self, points: torch.Tensor, spec: FusedSpec):
        self.coordinates = points.detach().numpy()
        with torch.no_grad():
            self.gram = (points @ points.T).numpy()
        self.distances, *self.statistics = _distances(self.gram, collapse_factor(points))
        self.edges = np.zeros((0, 2), dtype=np.int64)
        geometries = {}
        if spec.topology_h0 or spec.topo_ae or spec.toma:
            tau = self._threshold(spec.sparsify)
            self.edges, *peak = _prim_and_peak(self.distances, tau)
            geometries[spec.sparsify] = _Geometry(self, tau, peak)
        if spec.distance_matrix and spec.distance_matrix_sparsify not in geometries:
            tau = self._threshold(spec.distance_matrix_sparsify)
            geometries[spec.distance_matrix_sparsify] = _Geometry(self, tau, _peak(self.distances, tau))
        self.topo = geometries.get(spec.sparsify) or geometries[spec.distance_matrix_sparsify]
        self.dm = geometries.get(spec.distance_matrix_sparsify) or self.topo
        tree = self.distances[self.edges[:, 0], self.edges[:, 1]].astype(np.float64)
        self.kept = tree <= self.topo.tau

    def _threshold(self, sparsify: float | None) -> float:
        """The paper's tau = mean - s std over the n^2 entries (unbiased, as torch.std), floored at the
        smallest off-diagonal distance (rule (a)); inf without sparsify, 0 for a single point."""
        if sparsify is None:
            return math.inf
        n, (total, squares, smallest) = len(self.distances), self.statistics[:3]
        if n < 2:
            return 0.0
        count = n * n
        mean = total / count
        variance = max(squares - count * mean * mean, 0.0) / (count - 1)
        return max(mean - sparsify * math.sqrt(variance), smallest)


def _root(cost: float, p: float) -> tuple[float, float]:
    """cost ** (1/p) and its derivative (0 at 0, so that loss(X, X) backpropagates)."""
    if cost <= 0:
        return 0.0, 0.0
    value = math.sqrt(cost) if p == 2 else cost ** (1 / p)  # sqrt: correctly rounded everywhere
    return value, value / (p * cost)


class _FusedTerms(torch.autograd.Function):
    """(L_dm, L_ta, L_topo_ae, L_toma) of a student and a teacher batch; the ones not asked for are 0.

    Each batch measures the edges its terms need from its coordinates: its own tree's (L_ta), or
    both trees', the student's first (Topo-AE); `ta_grads` and `ae_grads` hold the gradients of
    the two terms in those normalised lengths."""

    @staticmethod
    def forward(ctx, student, teacher, spec: FusedSpec, wants: tuple[bool, bool]):
        s, t = _Batch(student, spec), _Batch(teacher, spec)
        dm = ta = ae = 0.0
        dense = [None, None]  # per batch: (S, row sums) of L_dm at a unit incoming gradient
        dm_scale_grads = [0.0, 0.0]
        if spec.distance_matrix:
            dm, s_s, rows_s, dm_scale_grads[0], s_t, rows_t, dm_scale_grads[1] = _matrix_mse(
                s.distances, s.dm.tau, s.dm.scale, t.distances, t.dm.tau, t.dm.scale, *wants
            )
            dense = [
                (torch.from_numpy(s_s), torch.from_numpy(rows_s)) if wants[0] else None,
                (torch.from_numpy(s_t), torch.from_numpy(rows_t)) if wants[1] else None,
            ]
        k = len(s.edges)
        if spec.topo_ae:
            both = np.concatenate([s.edges, t.edges])
            edges, own = (both, both), (slice(0, k), slice(k, 2 * k))
        else:
            edges, own = (s.edges, t.edges), (slice(0, k), slice(0, k))
        lengths = [_pair_lengths(batch.coordinates, pairs) / batch.topo.scale for batch, pairs in zip((s, t), edges)]
        ta_grads, ae_grads = [np.zeros(len(edges[0])), np.zeros(len(edges[1]))], [0.0, 0.0]
        if spec.topology_h0:
            cost, grad_s, grad_t = _transport(lengths[0][own[0]][s.kept], lengths[1][own[1]][t.kept], spec.p)
            root, slope = _root(cost, spec.p)
            constant = sliced_constant(spec.p)
            ta = constant * root
            ta_grads[0][own[0]][s.kept] = constant * slope * grad_s
            ta_grads[1][own[1]][t.kept] = constant * slope * grad_t
        if spec.topo_ae:
            kept = np.concatenate([s.kept, t.kept])
            counts = np.repeat([max(int(s.kept.sum()), 1), max(int(t.kept.sum()), 1)], k)
            gap = (lengths[0] - lengths[1]) * kept  # student - teacher, on the kept edges of each tree
            ae = 0.5 * float(np.sum(gap * gap / counts))
            ae_grads = [gap / counts, -gap / counts]
        toma, ctx.toma_dense = 0.0, None
        if spec.toma:
            with torch.no_grad():
                cross = (student @ teacher.T).numpy()
            toma, *ctx.toma_dense = _toma(
                s.gram,
                t.gram,
                cross,
                s.distances,
                s.topo.tau,
                s.edges,
                s.kept,
                s.topo.kept_pairs,
                t.distances,
                t.topo.tau,
                t.edges,
                t.kept,
                t.topo.kept_pairs,
                spec.toma_h1_weight,
                spec.toma_absolute,
                float(torch.finfo(student.dtype).eps),
                collapse_factor(student),
                *wants,
            )
        ctx.batches, ctx.edges, ctx.lengths = (s, t), edges, lengths
        ctx.ta_grads, ctx.ae_grads, ctx.dense, ctx.dm_scale_grads = ta_grads, ae_grads, dense, dm_scale_grads
        ctx.save_for_backward(student, teacher)
        return tuple(torch.tensor(value, dtype=student.dtype) for value in (dm, ta, ae, toma))

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_dm, grad_ta, grad_ae, grad_toma):
        scale_dm, scale_ta, scale_ae, scale_toma = (
            0.0 if g is None else float(g) for g in (grad_dm, grad_ta, grad_ae, grad_toma)
        )
        grads = []
        for index, points in enumerate(ctx.saved_tensors):
            if not ctx.needs_input_grad[index]:
                grads.append(None)
                continue
            own = ctx.batches[index]
            if scale_dm and ctx.dense[index] is not None:  # L_dm: scale_dm (rowsum(S) P - S P)
                symmetric, row_sums = ctx.dense[index]
                grad = torch.addmm(points * row_sums[:, None], symmetric, points, beta=scale_dm, alpha=-scale_dm)
            else:
                grad = torch.zeros_like(points)
            # The lengths measured from the coordinates: the trees' (normalised: d(length / scale) is
            # d length / scale - (length / scale) d scale / scale) and each geometry's normaliser.
            per_length = scale_ta * ctx.ta_grads[index] + scale_ae * ctx.ae_grads[index]
            lengths = ctx.lengths[index]
            topo, dm = own.topo, own.dm
            pairs = np.concatenate([ctx.edges[index], topo.pair, dm.pair])
            pair_grads = np.concatenate(
                [
                    per_length / topo.scale,
                    [-float(np.dot(per_length, lengths)) / topo.scale][: len(topo.pair)],
                    [scale_dm * ctx.dm_scale_grads[index]][: len(dm.pair)],
                ]
            )
            pair_lengths = np.concatenate(
                [lengths * topo.scale, [topo.length][: len(topo.pair)], [dm.length][: len(dm.pair)]]
            )
            _add_pair_gradients(grad.numpy(), own.coordinates, pairs, pair_grads, pair_lengths)
            if scale_toma and ctx.toma_dense is not None:  # rowsum(H) y - H y + 2 (rowsum(S) x - S x)
                mixed, mixed_rows, *own_parts = ctx.toma_dense
                symmetric, symmetric_rows = own_parts[2 * index : 2 * index + 2]
                mine, others = points, ctx.saved_tensors[1 - index]
                part = torch.addmm(
                    others * torch.from_numpy(mixed_rows)[:, None],
                    torch.from_numpy(mixed),
                    others,
                    beta=scale_toma,
                    alpha=-scale_toma,
                )
                part.addmm_(torch.from_numpy(symmetric), mine, alpha=-2 * scale_toma)
                grad += part.add_(mine * torch.from_numpy(symmetric_rows)[:, None], alpha=2 * scale_toma)
            grads.append(grad)
        return grads[0], grads[1], None, None


def fused_terms(student: torch.Tensor, teacher: torch.Tensor, spec: FusedSpec) -> tuple[torch.Tensor, ...]:
    """(L_dm, L_ta, L_topo_ae, L_toma) of two checked batches of the same size (0 for a term not asked for)."""
    wants = tuple(torch.is_grad_enabled() and x.requires_grad for x in (student, teacher))
    return _FusedTerms.apply(student, teacher, spec, wants)
