"""Distances of a batch and the paper's sparsification, computed once and shared by every loss.

ToMCLIP sparsifies a batch's complete distance graph before taking persistence: with D the
Euclidean distance matrix (diagonal zeros included), the threshold is tau = mean(D) - s * std(D)
over all n*n entries (unbiased std), s = 0.5 in the paper; edges longer than tau are removed; the
kept distances are then divided by their maximum. A removed edge is *absent* from the graph. It is
never represented as a distance of 0, which would be two identical points: `pairwise_distances`
fills removed entries with +inf by default; the distance-matrix loss, following the reference
code, compares matrices whose removed entries are 0, and says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import torch

from ..errors import TomclipError
from .stable import broadcast_scalar, distance_matrix, stable_mean, stable_sqrt, stable_std

if TYPE_CHECKING:
    import numpy as np

#: A batch of n points in d dimensions as the public functions take it: an (n, d) tensor (kept on its
#: device, gradients flowing), or a numpy array or nested list that torch.as_tensor reads.
PointCloud = Union[torch.Tensor, "np.ndarray", list]

#: Added to the normaliser, as the reference code does, so an all-zero batch divides safely.
NORMALIZE_EPS = 1e-8


def check_points(points: PointCloud, name: str = "points") -> torch.Tensor:
    """A (n, d) floating tensor with n >= 1; NaN and inf are refused on the CPU.

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


def sparsity_threshold(distances: torch.Tensor, scale: float) -> torch.Tensor:
    """tau = mean - scale * std over all n*n entries (unbiased std): the paper's edge cut-off."""
    detached = distances.detach()
    if detached.numel() < 2:
        return detached.new_zeros(())
    return stable_mean(detached) - scale * stable_std(detached)  # the same bits for any thread count


@dataclass
class BatchGeometry:
    """One batch's distances, sparsification and normaliser, shared by all the losses of a step.

    `distances` carries gradient only when built with differentiable_matrix=True (the
    distance-matrix loss and graph-H1 terms need it); edge-based terms recompute their few lengths
    from the points instead, which keeps their backward pass O(k d). `weight` is 1.0 on the edges
    of the (sparsified) graph and 0.0 elsewhere, the diagonal included; `masked` = distances *
    weight. `scale` is the normaliser when normalising (the largest kept distance plus
    NORMALIZE_EPS; it carries gradient, taken from the matrix or, when the matrix has none, from
    the farthest pair's two points), else 1.

    Speed: every pass over n^2 entries counts (at n = 4096 one costs 5 to 25 ms on two cores), so
    masks are float multiplications (several times faster than torch.where), the farthest pair is
    found row-wise (a flat argmax is single-threaded), and the diagonal of a differentiable
    `distances` is left as computed (up to ~1e-3 in float32, as in the reference
    code): `weight` removes it from every consumer.
    """

    points: torch.Tensor
    distances: torch.Tensor  # (n, n)
    weight: torch.Tensor  # (n, n), 1.0 for kept edges, 0.0 for removed ones and the diagonal
    masked: torch.Tensor  # distances * weight
    threshold: torch.Tensor | None
    scale: torch.Tensor

    @classmethod
    def of(cls, points: torch.Tensor, sparsify: float | None, normalize: bool,
           differentiable_matrix: bool = False) -> BatchGeometry:
        differentiable = differentiable_matrix and torch.is_grad_enabled() and points.requires_grad
        with torch.set_grad_enabled(differentiable):
            distances = distance_matrix(points)  # torch.cdist's value, portable bits (stable.py)
        detached = distances.detach()
        if not differentiable:
            detached.fill_diagonal_(0.0)
        threshold = None
        if sparsify is None:
            weight = torch.ones_like(detached)
        else:
            threshold = sparsity_threshold(detached, sparsify)
            weight = torch.le(detached, threshold, out=torch.empty_like(detached))  # straight to float
        weight.fill_diagonal_(0.0)
        with torch.set_grad_enabled(differentiable):
            masked = distances * weight
        scale = distances.new_ones(())
        if normalize and (differentiable or not points.requires_grad):
            scale = masked.amax(dim=1).max() + NORMALIZE_EPS  # row-wise first: a flat max is slower
        elif normalize:  # gradient through the scale, without the n^2 matrix: recompute one distance
            row = masked.amax(dim=1).argmax()
            column = masked[row].argmax()
            scale = safe_norm(points[row] - points[column]) + NORMALIZE_EPS
        return cls(points, distances, weight, masked, threshold, scale)

    @property
    def kept(self) -> torch.Tensor:
        """(n, n) bool: the edges of the (sparsified) graph; never the diagonal."""
        return self.weight > 0

    def matrix(self) -> torch.Tensor:
        """The (sparsified, normalised) matrix; removed edges and the diagonal hold 0."""
        return self.masked / broadcast_scalar(self.scale, len(self.masked))  # thread-stable gradient

    def edge_lengths(self, edges: torch.Tensor) -> torch.Tensor:
        """Normalised lengths of `edges` (k, 2), recomputed from the points (O(k d) backward)."""
        if edges.numel() == 0:
            return self.points.new_zeros(0)
        # index_select, not advanced indexing: its backward is several times faster on the CPU.
        differences = self.points.index_select(0, edges[:, 0]) - self.points.index_select(0, edges[:, 1])
        return safe_norm(differences) / self.scale


def pairwise_distances(points: PointCloud, *, sparsify: float | None = None, normalize: bool = False,
                       removed: float = float("inf")) -> torch.Tensor:
    """Euclidean distances of a batch, optionally sparsified and max-normalised as in the paper.

    sparsify: the scale s of the threshold tau = mean(D) - s * std(D) (None: keep every edge).
    normalize: divide by the largest kept distance (plus 1e-8, as the reference).
    removed: the value written for removed edges; +inf (no edge) by default, so a removed edge is
        never mistaken for two identical points at distance 0. The diagonal is exactly 0.
    """
    points = check_points(points)
    geometry = BatchGeometry.of(points, sparsify, normalize, differentiable_matrix=True)
    matrix = geometry.matrix()
    if removed != 0.0:
        matrix = matrix.masked_fill(~geometry.kept, removed).fill_diagonal_(0.0)
    return matrix
