"""Arithmetic whose bits depend neither on the number of threads nor on the CPU's vendor.

Sums. PyTorch adds up a tensor of more than 32,768 entries to a single number by giving each thread a
chunk and adding the chunks' partial sums, so 1 and 2 threads round differently; and the gradient
of a scalar broadcast over an (n, n) matrix is such a sum. A reduction along the last dimension is
split by rows instead, each row summed whole by one thread. So every full reduction of a loss
here goes row-wise first, then over the short vector of row sums: the same bits for any thread
count. That matters because the sparsification threshold, a mean and a standard deviation of n^2
distances, decides which edges exist; a last-bit change there changes the spanning forest.

Square roots. torch.sqrt (and pow(x, 0.5), and torch.cdist, which ends in one) hands a float tensor
to MKL's vector math library, which takes another code path on AMD than on Intel processors even
with MKL_CBWR pinned (measured under emulation of both: numerics.env). torch.rsqrt is PyTorch's own
kernel (a correctly rounded square root and a division), so `stable_sqrt` and `distance_matrix`
are built on it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Entries per row of the row-wise stage: below PyTorch's grain size (32,768), so one thread sums a row.
ROW = 4096


def stable_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum of all entries, identical for every thread count (row-wise, then over the row sums)."""
    flat = values.reshape(-1)
    while flat.numel() > ROW:
        if flat.numel() % ROW:
            flat = F.pad(flat, (0, -flat.numel() % ROW))
        flat = flat.reshape(-1, ROW).sum(dim=1)
    return flat.sum()


def stable_mean(values: torch.Tensor) -> torch.Tensor:
    return stable_sum(values) / max(values.numel(), 1)


def stable_std(values: torch.Tensor, mean: torch.Tensor | None = None) -> torch.Tensor:
    """Unbiased standard deviation of all entries (torch.std's definition), thread-count independent;
    `mean`, when the caller has it, is stable_mean(values)."""
    mean = stable_mean(values) if mean is None else mean
    centered = values - mean
    # Squared in place when no gradient is recorded (the threshold's detached matrix): x * x is
    # pow(x, 2)'s own kernel, the same bits, without a second n^2 buffer.
    squared = centered.mul_(centered) if not centered.requires_grad else centered**2
    return stable_sqrt(stable_sum(squared) / max(values.numel() - 1, 1))


def stable_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all entries (F.mse_loss's value), thread-count independent."""
    return stable_mean((a - b) ** 2)


def broadcast_scalar(scalar: torch.Tensor, rows: int) -> torch.Tensor:
    """A scalar as an (rows, 1) column, for dividing an (rows, m) matrix by it: its gradient is then
    summed per row first, then over the rows, instead of in one thread-split pass over rows * m."""
    return scalar.reshape(1, 1).expand(rows, 1)


def stable_sqrt(values: torch.Tensor) -> torch.Tensor:
    """Square root as x * rsqrt(x) (within 2 ulp of torch.sqrt); exactly 0, with gradient 0, at 0."""
    positive = values > 0
    # Scalar fill values, not ones_like / zeros_like: the same bits, two fewer allocations per call.
    safe = torch.where(positive, values, 1.0)
    return torch.where(positive, safe * torch.rsqrt(safe), 0.0)


def collapse_factor(points: torch.Tensor) -> float:
    """f = 2 (d + 2) eps: a pair whose squared distance, computed from the Gram matrix, is at most
    f (|p_i|^2 + |p_j|^2) is read as one point (distance 0). That is the rounding bound of the
    computed |p_i|^2 + |p_j|^2 - 2 p_i.p_j (d-term dot products in any summation order, then two
    additions): an exact duplicate always falls below it, whatever the last bits of the matrix
    product, and no pair below it has a length or direction the Gram matrix can resolve."""
    return 2.0 * (points.shape[1] + 2) * torch.finfo(points.dtype).eps


def distance_matrix(points: torch.Tensor) -> torch.Tensor:
    """Euclidean distances of a batch (n, n), as torch.cdist computes them for n > 25 (squared norms
    and one matrix product), with stable_sqrt; exactly 0 for collapsed pairs (collapse_factor): the
    diagonal and exact duplicates, whatever the rounding of the matrix product."""
    squared_norms = (points * points).sum(dim=1)
    norms = squared_norms[:, None] + squared_norms[None, :]
    if torch.is_grad_enabled() and points.requires_grad:
        squared = (norms - 2 * (points @ points.T)).clamp_min(0)
        squared = squared.masked_fill(squared <= collapse_factor(points) * norms.detach(), 0.0)
        return stable_sqrt(squared)
    # Without gradient: the same bits in four fewer passes over n^2 entries. Clamping to the smallest
    # subnormal changes no positive square and turns 0 into 0 * rsqrt(2^-149) = 0, where's job.
    squared = norms.clone()
    squared.sub_((points @ points.T).mul_(2)).clamp_min_(0)
    squared.masked_fill_(squared <= norms.mul_(collapse_factor(points)), 0.0)
    smallest = torch.finfo(points.dtype).smallest_normal * torch.finfo(points.dtype).eps
    return squared.clamp_min(smallest).rsqrt_().mul_(squared)
