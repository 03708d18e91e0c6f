"""The geometry of a shared embedding space ("Topological perspectives on optimal multimodal
embedding spaces", arXiv 2405.18867): modality gap, separability, effective dimension, clusters.

Parameter choices (the paper's exact ones were not available to us; all fixed and seeded):
- modality gap: Euclidean distance between the means of the L2-normalised embeddings of the two
  modalities;
- linear separability: 5-fold stratified cross-validated accuracy of a logistic-regression probe
  that tells the modalities apart (0.5 = inseparable, 1 = a clean gap);
- effective dimension: the entropy effective rank exp(H(p)), p the normalised singular values of
  the centred embeddings (Roy and Vetterli 2007), and the area under the singular-value curve
  normalised to [0, 1] on both axes (small = a few directions dominate);
- clusters: UMAP (cosine input metric, output on the sphere through the haversine metric, seed 0)
  followed by HDBSCAN on the sphere's 3-D coordinates; a cluster's local effective dimension is the
  effective rank of its own members.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from ..errors import TomclipError
from ..evaluate import retrieval_hits


def normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)


def modality_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Distance between the centroids of two modalities' L2-normalised embeddings."""
    return float(np.linalg.norm(normalize(a).mean(axis=0) - normalize(b).mean(axis=0)))


def linear_separability(a: np.ndarray, b: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated accuracy of a linear probe telling modality a from modality b."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    features = np.concatenate([normalize(a), normalize(b)])
    labels = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(cross_val_score(LogisticRegression(max_iter=2000), features, labels, cv=splitter).mean())


def singular_values(x: np.ndarray) -> np.ndarray:
    centred = np.asarray(x, dtype=np.float64) - np.mean(x, axis=0)
    return np.linalg.svd(centred, compute_uv=False)


def effective_rank(x: np.ndarray) -> float:
    """exp of the entropy of the normalised singular values: 1 for a line, d for an isotropic cloud."""
    values = singular_values(x)
    if len(values) == 0 or values.sum() <= 0:
        return 0.0
    p = values / values.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def singular_value_auc(x: np.ndarray) -> float:
    """Area under s_i / s_1 against i / (k - 1): near 0 when one direction dominates, 1 when flat."""
    values = singular_values(x)
    if len(values) < 2 or values[0] <= 0:
        return 0.0
    return float(np.trapezoid(values / values[0], np.linspace(0, 1, len(values))))


def geometry_summary(images: np.ndarray, texts: np.ndarray) -> dict[str, float]:
    """Global measures of a paired image-text space."""
    joint = np.concatenate([normalize(images), normalize(texts)])
    return {
        "modality gap": modality_gap(images, texts),
        "linear separability": linear_separability(images, texts),
        "effective rank (texts)": effective_rank(normalize(texts)),
        "effective rank (images)": effective_rank(normalize(images)),
        "effective rank (joint)": effective_rank(joint),
        "singular-value AUC (texts)": singular_value_auc(normalize(texts)),
    }


@functools.cache
def _umap_with_cached_kernels():
    """umap, its numba kernels kept compiled on disk as pynndescent's already are.

    umap-learn compiles its kernels (about 20 s on two cores) in every new process without numba's
    cache: each notebook kernel and test process paid it again (the layout epoch, which umap wraps
    in numba inside each call, stays uncached: about 2 s). With the CPU pinned for numba
    (numerics.env: NUMBA_CPU_NAME) the cached machine code is what a compile would give, so
    results keep their bits.
    """
    import umap
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    for module in (umap.umap_, umap.utils, umap.layouts, umap.distances):
        for kernel in vars(module).values():
            if isinstance(kernel, Dispatcher) and isinstance(kernel._cache, NullCache):
                kernel.enable_caching()
    return umap


def sphere_clusters(x: np.ndarray, seed: int = 0, min_cluster_size: int = 15, n_neighbors: int = 15) -> np.ndarray:
    """Cluster labels (-1 = noise) from UMAP onto the sphere followed by HDBSCAN."""
    import hdbscan

    umap = _umap_with_cached_kernels()
    if len(x) < max(n_neighbors + 2, min_cluster_size):
        raise TomclipError(f"{len(x)} points are too few to cluster (n_neighbors={n_neighbors}).")
    reducer = umap.UMAP(
        n_neighbors=n_neighbors, metric="cosine", output_metric="haversine", random_state=seed, n_jobs=1
    )
    latitude_longitude = reducer.fit_transform(normalize(x))
    theta, phi = latitude_longitude[:, 0], latitude_longitude[:, 1]
    xyz = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=1)
    return hdbscan.HDBSCAN(min_cluster_size=min_cluster_size).fit_predict(xyz)


def spearman(a, b) -> float:
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def study(
    images: np.ndarray, texts: dict[tuple[str, str], np.ndarray], clusters: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Global and per-cluster geometry of each (model, language) text space against the images.

    images: (N, d) image embeddings of N items; texts[(model, language)]: (N, d) captions of the
    same items; clusters: (N,) cluster label of each item (-1: noise). Returns one row per
    (model, language) with the global measures and R@1, and one row per (model, language,
    cluster) with the cluster's local effective rank (its images and captions together) and R@1.
    """
    global_rows, local_rows = [], []
    for (model, language), captions in texts.items():
        hits = retrieval_hits(normalize(captions), normalize(images), ks=(1,))["text_to_image", 1]
        global_rows.append(
            {"model": model, "language": language, "R@1": float(hits.mean()), **geometry_summary(images, captions)}
        )
        for cluster in sorted(set(clusters.tolist()) - {-1}):
            members = clusters == cluster
            joint = np.concatenate([normalize(images[members]), normalize(captions[members])])
            local_rows.append(
                {
                    "model": model,
                    "language": language,
                    "cluster": int(cluster),
                    "size": int(members.sum()),
                    "local effective rank": effective_rank(joint),
                    "R@1": float(hits[members].mean()),
                }
            )
    local_columns = ["model", "language", "cluster", "size", "local effective rank", "R@1"]
    return pd.DataFrame(global_rows), pd.DataFrame(local_rows, columns=local_columns)


def predictiveness(global_table: pd.DataFrame, local_table: pd.DataFrame) -> pd.DataFrame:
    """Does effective dimension predict retrieval? Spearman correlations, local and global.

    Local: within each (model, language), across clusters, local effective rank against the
    cluster's R@1 (one value per space; the table gives their median and range). Global: across
    the (model, language) spaces, their joint effective rank against their R@1.
    """
    local = pd.Series(
        [spearman(part["local effective rank"], part["R@1"]) for _, part in local_table.groupby(["model", "language"])],
        dtype=float,
    )
    rows = [
        {
            "measure": "local effective rank vs cluster R@1 (within each space)",
            "spaces": int(local.notna().sum()),
            "median Spearman": float(local.median()),
            "min": float(local.min()),
            "max": float(local.max()),
        },
        {
            "measure": "global effective rank vs R@1 (across spaces)",
            "spaces": len(global_table),
            "median Spearman": spearman(global_table["effective rank (joint)"], global_table["R@1"]),
            "min": float("nan"),
            "max": float("nan"),
        },
    ]
    return pd.DataFrame(rows)


# ----------------------------------------------------------------- intervals (notebook 08's comparison of spaces)


def bootstrap_counts(n: int, resamples: int, seed: int = 0) -> np.ndarray:
    """(resamples, n) float counts: how often each of n items is drawn in each bootstrap resample."""
    if n < 2 or resamples < 1:
        raise TomclipError(f"A bootstrap over items needs at least 2 items and 1 resample; got {n} and {resamples}.")
    return np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), size=resamples).astype(np.float64)


def percentile_interval(draws, level: float = 0.95) -> tuple[float, float]:
    """The central `level` interval of bootstrap draws (NaN, NaN without any finite draw)."""
    draws = np.asarray(draws, dtype=np.float64)
    if not 0 < level < 1:
        raise TomclipError(f"level={level}: an interval's level is a probability strictly between 0 and 1.")
    if len(draws) == 0 or not np.isfinite(draws).all():
        return float("nan"), float("nan")
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def gap_draws(a: np.ndarray, b: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The modality gap of each bootstrap resample (a row of `counts`) of the paired items (a[i], b[i])."""
    a, b, counts = np.asarray(a), np.asarray(b), np.asarray(counts)
    if a.ndim != 2 or a.shape != b.shape or counts.ndim != 2 or counts.shape[1] != len(a):
        raise TomclipError(
            f"The modality gap pairs item i of one modality with item i of the other: got {a.shape} and "
            f"{b.shape}, bootstrap counts {counts.shape} (resamples x items)."
        )
    return np.linalg.norm(counts @ (normalize(a) - normalize(b)), axis=1) / len(a)


def out_of_fold_correct(a: np.ndarray, b: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Per item i, the share of its two points (a[i], b[i]) that linear_separability's probe, fitted on
    the other folds, assigns to the right modality: their mean is the pooled cross-validated accuracy."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    if len(a) != len(b):
        raise TomclipError(f"Paired items need as many points in each modality; got {len(a)} and {len(b)}.")
    features = np.concatenate([normalize(a), normalize(b)])
    labels = np.repeat([0, 1], len(a))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    correct = cross_val_predict(LogisticRegression(max_iter=2000), features, labels, cv=splitter) == labels
    return (correct[: len(a)] + correct[len(a) :].astype(np.float64)) / 2


def planar_view(x: np.ndarray, seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    """(N, 2) UMAP coordinates of the L2-normalised points (cosine metric, seeded; not bit-stable
    across CPUs, as sphere_clusters)."""
    umap = _umap_with_cached_kernels()
    if len(x) < n_neighbors + 2:
        raise TomclipError(f"{len(x)} points are too few for a UMAP view (n_neighbors={n_neighbors}).")
    reducer = umap.UMAP(n_neighbors=n_neighbors, metric="cosine", random_state=seed, n_jobs=1)
    return reducer.fit_transform(normalize(x))


def local_against_global(
    clusters, local, global_, retrieval, resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, float]:
    """Which effective dimension predicts per-cluster retrieval better, over rows (a space's cluster):
    Spearman of `retrieval` with `local` and with `global_` effective rank, and |rho local| - |rho
    global| with its percentile interval from a bootstrap over cluster labels (every row of a drawn
    cluster comes with it); NaN interval with fewer than 3 clusters."""
    clusters, local, global_, retrieval = (np.asarray(v) for v in (clusters, local, global_, retrieval))
    if not len(clusters) == len(local) == len(global_) == len(retrieval):
        raise TomclipError("Each row needs its cluster, local and global effective rank and retrieval score.")
    members = {c: np.flatnonzero(clusters == c) for c in np.unique(clusters)}
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(resamples if len(members) >= 3 else 0):
        pick = np.concatenate([members[c] for c in rng.choice(list(members), len(members))])
        differences.append(abs(spearman(local[pick], retrieval[pick])) - abs(spearman(global_[pick], retrieval[pick])))
    rho_local, rho_global = spearman(local, retrieval), spearman(global_, retrieval)
    low, high = percentile_interval(differences, level)
    return {
        "rho local": rho_local,
        "rho global": rho_global,
        "difference": abs(rho_local) - abs(rho_global),
        "ci_low": low,
        "ci_high": high,
    }
