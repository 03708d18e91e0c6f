"""The topology engine: exact, fast, differentiable persistence of embedding batches.

    from tomclip_lib.topology import AlignmentLoss, PAPER_VARIANTS
    loss_fn = AlignmentLoss(**PAPER_VARIANTS["ToMCLIP"])
    total, terms = loss_fn(student_batch, teacher_batch)   # terms: each unweighted component

Modules: `distances` (distance matrices and the paper's sparsification), `persistence` (H0 by
minimum spanning tree, graph-H1, Vietoris-Rips H1 through gudhi), `diagrams` (Wasserstein,
sliced Wasserstein, persistence images), `losses`, `fused` (the CPU kernel a training step takes
for the MST-based terms and ToMA), `theory` (Theorem 1's bound, executable).
"""

from .diagrams import death_wasserstein, persistence_image, sliced_constant, sliced_wasserstein, wasserstein_h0
from .distances import BatchGeometry, pairwise_distances
from .losses import (
    ENGINE_VERSION,
    MODES,
    PAPER_VARIANTS,
    AlignmentLoss,
    distance_matrix_loss,
    pointwise_loss,
    toma_loss,
    topo_ae_loss,
    topological_alignment_loss,
)
from .persistence import graph_h1_births, h0_persistence, minimum_spanning_tree, vietoris_rips_h1
from .theory import SparsificationBound, sparsification_bound

__all__ = [
    "AlignmentLoss",
    "BatchGeometry",
    "ENGINE_VERSION",
    "MODES",
    "PAPER_VARIANTS",
    "SparsificationBound",
    "death_wasserstein",
    "distance_matrix_loss",
    "graph_h1_births",
    "h0_persistence",
    "minimum_spanning_tree",
    "pairwise_distances",
    "persistence_image",
    "pointwise_loss",
    "sliced_constant",
    "sliced_wasserstein",
    "sparsification_bound",
    "topo_ae_loss",
    "toma_loss",
    "topological_alignment_loss",
    "vietoris_rips_h1",
    "wasserstein_h0",
]
