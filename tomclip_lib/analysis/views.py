"""Low-dimensional views of embeddings for the paper's figures: joint t-SNE and sorted distances."""

from __future__ import annotations

import numpy as np


def joint_tsne(embeddings: dict[str, np.ndarray], perplexity: float = 15.0, seed: int = 0) -> dict[str, np.ndarray]:
    """One t-SNE of several sets together (e.g. English and Korean), so their 2-D positions compare.

    Cosine distances, PCA initialisation, fixed seed: the same inputs give the same map.
    """
    from sklearn.manifold import TSNE

    names = list(embeddings)
    stacked = np.concatenate([embeddings[name] for name in names])
    perplexity = min(perplexity, (len(stacked) - 1) / 3)
    coordinates = TSNE(
        n_components=2, perplexity=perplexity, metric="cosine", init="pca", random_state=seed
    ).fit_transform(stacked)
    bounds = np.cumsum([0] + [len(embeddings[name]) for name in names])
    return {name: coordinates[start:end] for name, start, end in zip(names, bounds[:-1], bounds[1:])}


def sorted_pairwise_distances(x: np.ndarray, normalize: bool = True) -> np.ndarray:
    """All pairwise Euclidean distances of a batch (upper triangle), sorted ascending.

    With normalize=True they are divided by their maximum, as the topological terms see them.
    """
    from scipy.spatial.distance import pdist

    distances = np.sort(pdist(np.asarray(x, dtype=np.float64)))
    return distances / distances.max() if normalize and len(distances) and distances.max() > 0 else distances


def curve_gaps(curves: dict[str, np.ndarray], reference: str) -> dict[str, float]:
    """Root-mean-square gap of each sorted-distance curve to the `reference` curve (same length)."""
    return {
        name: float(np.sqrt(np.mean((curve - curves[reference]) ** 2)))
        for name, curve in curves.items()
        if name != reference
    }
