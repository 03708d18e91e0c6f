"""Geometry measures on spaces whose answer is known."""

import numpy as np
import pytest

from tomclip_lib.analysis import geometry


def blobs(centres, n=60, spread=0.05, d=8, seed=0):
    rng = np.random.default_rng(seed)
    points = np.concatenate([c + spread * rng.standard_normal((n, d)) for c in centres])
    return points, np.repeat(np.arange(len(centres)), n)


def test_modality_gap_and_separability():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((200, 8))
    assert geometry.modality_gap(a, a) == pytest.approx(0.0)
    shift = np.zeros(8)
    shift[0] = 10
    assert geometry.modality_gap(a + shift, a - shift) > 1.5
    assert geometry.linear_separability(a + shift, a - shift) > 0.98
    assert geometry.linear_separability(a, rng.standard_normal((200, 8))) < 0.65


def test_effective_rank_and_auc():
    rng = np.random.default_rng(1)
    line = np.outer(rng.standard_normal(300), rng.standard_normal(16))
    cloud = rng.standard_normal((3000, 16))
    assert geometry.effective_rank(line) == pytest.approx(1.0, abs=1e-3)
    assert geometry.effective_rank(cloud) > 14
    assert geometry.singular_value_auc(cloud) > 0.8 > 0.1 > geometry.singular_value_auc(line)


def test_sphere_clusters_find_separated_groups():
    centres = np.eye(8)[:3] * 3
    points, truth = blobs(centres)
    labels = geometry.sphere_clusters(points, min_cluster_size=20)
    majorities = []
    for group in range(3):  # each true group falls mostly in a cluster of its own
        clustered = labels[(truth == group) & (labels != -1)]
        values, counts = np.unique(clustered, return_counts=True)
        majorities.append(values[counts.argmax()])
        assert counts.max() >= 0.7 * len(clustered)
    assert len(set(majorities)) == 3


def test_umaps_kernels_are_compiled_once_and_kept_on_disk():
    import umap
    from numba.core.caching import NullCache

    geometry.sphere_clusters(blobs(np.eye(8)[:3] * 3)[0], min_cluster_size=20)
    kernels = [umap.umap_.smooth_knn_dist, umap.utils.fast_knn_indices, umap.umap_.compute_membership_strengths]
    assert not any(isinstance(kernel._cache, NullCache) for kernel in kernels), "each new process would compile them"
    assert all(kernel._cache.cache_path for kernel in kernels)


def test_study_and_predictiveness_tables():
    rng = np.random.default_rng(2)
    images, truth = blobs(np.eye(8)[:3] * 3)
    texts = {
        ("model", "en"): images + 0.01 * rng.standard_normal(images.shape),
        ("model", "ko"): rng.standard_normal(images.shape),
    }
    global_table, local_table = geometry.study(images, texts, truth)
    assert list(global_table["language"]) == ["en", "ko"]
    assert global_table.set_index("language").loc["en", "R@1"] > global_table.set_index("language").loc["ko", "R@1"]
    assert len(local_table) == 2 * 3 and set(local_table["size"]) == {60}
    verdict = geometry.predictiveness(global_table, local_table)
    assert len(verdict) == 2 and verdict["spaces"].iloc[1] == 2


def test_too_few_points_to_cluster_is_a_clear_error():
    from tomclip_lib.errors import TomclipError

    with pytest.raises(TomclipError, match="too few"):
        geometry.sphere_clusters(np.ones((5, 3)))


def test_a_space_without_clusters_gives_empty_local_tables_not_an_error():
    images, _ = blobs(np.eye(8)[:2] * 3)
    texts = {("model", "en"): images}
    global_table, local_table = geometry.study(images, texts, np.full(len(images), -1))
    assert len(global_table) == 1 and local_table.empty and "local effective rank" in local_table
    verdict = geometry.predictiveness(global_table, local_table)
    assert verdict["spaces"].iloc[0] == 0 and np.isnan(verdict["median Spearman"].iloc[0])
