"""Persistence views of embedding batches for the explanatory notebook (07) and the figures (06)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .. import paths
from ..topology import (
    graph_h1_births,
    h0_persistence,
    pairwise_distances,
    sparsification_bound,
    topological_alignment_loss,
    vietoris_rips_h1,
)


def as_tensor(points) -> torch.Tensor:
    return torch.as_tensor(np.asarray(points), dtype=torch.float64)


def h0_deaths(points, sparsify: float | None = 0.5) -> np.ndarray:
    """Normalised H0 deaths of a batch, as L_ta sees them (sparsified, divided by the max kept)."""
    deaths, _ = h0_persistence(as_tensor(points), sparsify=sparsify, normalize=True)
    return deaths.numpy()


def rips_diagram(points, max_points: int) -> np.ndarray:
    """The Vietoris-Rips H0 and H1 intervals (birth, death) of the first `max_points` points, with
    distances divided by their largest, so that batches of different scales share one plot."""
    x = np.asarray(points[:max_points], dtype=float)
    x = x / np.max(np.linalg.norm(x[:, None] - x[None], axis=-1))
    h0 = np.stack([np.zeros(len(x) - 1), h0_deaths(x, sparsify=None)], axis=1)
    return np.concatenate([h0, vietoris_rips_h1(x)])


def sparsification_summary(points, scales=(None, 0.0, 0.25, 0.5, 1.0)) -> pd.DataFrame:
    """What each sparsification scale s keeps: edges of the graph, and bars of the H0 diagram."""
    points = as_tensor(points)
    n = len(points)
    full = h0_persistence(points)[0]
    rows = []
    for scale in scales:
        kept_pairs = int(torch.isfinite(pairwise_distances(points, sparsify=scale)).triu(1).sum())
        deaths, _ = h0_persistence(points, sparsify=scale)
        rows.append(
            {
                "s": "off" if scale is None else scale,
                "edges kept": kept_pairs / (n * (n - 1) / 2),
                "H0 bars kept": len(deaths) / len(full),
                "largest kept death / largest death": float(deaths.max() / full.max()) if len(deaths) else 0.0,
            }
        )
    return pd.DataFrame(rows)


def theorem_curve(points, eps_grid, p: float = 2) -> pd.DataFrame:
    """Theorem 1 on one batch: actual W_p(PD0(G), PD0(G_eps)) and the bound, for each eps."""
    rows = []
    for eps in eps_grid:
        result = sparsification_bound(as_tensor(points), float(eps), p)
        rows.append(
            {
                "eps": result.eps,
                "m(eps)": result.late_deaths,
                "actual W_p": result.actual,
                "bar matching": result.bar_matching,
                "bound": result.bound,
            }
        )
    return pd.DataFrame(rows)


def reference_draws(student, teacher, draws: int, sparsify: float | None = 0.5) -> tuple[np.ndarray, float]:
    """`draws` values of the reference (sliced, random) L_ta and the exact value it estimates."""
    student, teacher = as_tensor(student), as_tensor(teacher)
    samples = np.array(
        [
            float(topological_alignment_loss(student, teacher, sparsify=sparsify, mode="reference", seed=seed))
            for seed in range(draws)
        ]
    )
    exact = float(topological_alignment_loss(student, teacher, sparsify=sparsify, mode="exact"))
    return samples, exact


def h1_comparison(points, max_points: int = 128) -> dict[str, int]:
    """How many graph-H1 births (the reference's "H1") versus true Vietoris-Rips H1 bars a batch has."""
    points = as_tensor(points)[:max_points]
    births, _ = graph_h1_births(points)
    intervals = vietoris_rips_h1(points)
    return {
        "points": len(points),
        "graph-H1 births (sparsified, s = 0.5)": len(births),
        "Vietoris-Rips H1 bars": len(intervals),
        "Vietoris-Rips H1 bars with persistence > 0.01 (normalised)": int(
            ((intervals[:, 1] - intervals[:, 0]) > 0.01 * float(torch.cdist(points, points).max())).sum()
        ),
    }


def benchmark_table(device: str | None = None) -> str:
    """The table benchmarks/bench_topology.py wrote for `device` (Markdown), or how to make it.

    The default is this machine's kind: cuda when a GPU is visible, else cpu."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    path = paths.results_dir("benchmarks") / f"topology_{device}.md"
    if not path.exists():
        return f"No benchmark for {device} yet: run `.venv/bin/python benchmarks/bench_topology.py`."
    return path.read_text(encoding="utf-8")
