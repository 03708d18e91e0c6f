"""Notebook 04's tables and verdict from per-item records alone: hand-computed cases, declared
families, and the committed verdict recomputed from the committed records."""

import numpy as np
import pandas as pd
import pytest

from tomclip_lib import config, evaluate, paths, statistics
from tomclip_lib.errors import TomclipError
from tomclip_lib.stages import tables, verdicts

# hits[model][seed][language][item]; a hit is rank 0, a miss rank 1.
HITS = {
    "MCLIP": [[[1, 0, 0], [0, 0, 0]], [[1, 1, 1], [0, 1, 0]]],
    "ToMCLIP": [[[1, 1, 0], [1, 0, 0]], [[1, 1, 1], [0, 1, 1]]],
    "ToMA": [[[1, 0, 0], [0, 0, 0]], [[1, 1, 1], [0, 1, 0]]],  # MCLIP's own hits: a zero difference
}
# ToMCLIP - MCLIP averaged over the two languages: seed 0 [.5, .5, 0], seed 1 [0, 0, .5]; mean .25.
# Seed means 1/3, 1/6; item means all .25: MS_seed = 3 * 2 * (1/12)^2 = 1/24, MS_item = 0,
# residuals [1/6, 1/6, -1/3] and their negatives: MS_res = (1/3) / 2 = 1/6. The combination
# 1/24 - 1/6 < 0 is floored at MS_seed: variance 1/24 / 6 = 1/144, se 1/12, 1 degree of freedom.
RUNS = pd.DataFrame(
    [
        dict(variant="MCLIP", objective="MCLIP", baseline=None),
        dict(variant="ToMCLIP", objective="ToMCLIP", baseline="MCLIP"),
        dict(variant="ToMA", objective="ToMA", baseline="MCLIP"),
    ]
)
FAMILIES = {"primary": ["ToMCLIP"], "secondary": ["ToMA"]}
DELTA = {tables.ZERO_SHOT_TASK: 1.0, tables.RETRIEVAL_TASK: 30.0, tables.RETRIEVAL_RR_TASK: 30.0}
ENDPOINT = {"setting": "low", "task": tables.RETRIEVAL_RR_TASK}


def records(item: str, extra: dict) -> pd.DataFrame:
    rows = [
        dict(model=model, setting="low", seed=seed, language=lang, **{item: i}, rank=0 if hit else 1, **extra)
        for model, by_seed in HITS.items()
        for seed, by_language in enumerate(by_seed)
        for lang, by_item in zip(("en", "ko"), by_language)
        for i, hit in enumerate(by_item)
    ]
    frame = pd.DataFrame(rows)
    frame["seed"] = frame["seed"].astype("Int16")
    return frame


def zero_shot():
    return records("image", {"label": 0, "predicted": 0})


def retrieval():
    text_to_image = records("item", {"direction": "text_to_image"})
    image_to_text = text_to_image.assign(direction="image_to_text", rank=0)  # all hits: must not enter the verdict
    return pd.concat([text_to_image, image_to_text], ignore_index=True)


def compare(**overrides):
    arguments = dict(families=FAMILIES, smallest_effect=DELTA, primary_endpoint=ENDPOINT) | overrides
    return verdicts.paired_comparisons(zero_shot(), retrieval(), RUNS, **arguments).set_index(["task", "model"])


def test_the_paired_difference_and_its_standard_error_by_hand():
    table = compare()
    row = table.loc[tables.ZERO_SHOT_TASK, "ToMCLIP"]
    assert row["difference"] == pytest.approx(25.0) and row["se"] == pytest.approx(100 / 12)
    assert row["df"] == 1 and (row["seeds"], row["items"], row["languages"], row["wins"]) == (2, 3, 2, 2)
    assert (row["score"], row["baseline score"]) == pytest.approx((8 / 12 * 100, 5 / 12 * 100))
    # the retrieval task reads text -> image only (image -> text is all hits for every model)
    assert table.loc[tables.RETRIEVAL_TASK, "ToMCLIP"]["difference"] == pytest.approx(25.0)


def test_the_reciprocal_rank_is_a_continuous_score_of_the_same_records():
    """A miss at rank 1 scores 1/2, so every difference is half the R@1 one; a true image moved from
    rank 4 to rank 1 is no hit either way, yet its reciprocal rank rises from 1/5 to 1/2."""
    table = compare()
    row = table.loc[tables.RETRIEVAL_RR_TASK, "ToMCLIP"]
    assert row["difference"] == pytest.approx(12.5) and row["se"] == pytest.approx(100 / 24)
    worse_misses = retrieval()
    at = (worse_misses["model"] == "MCLIP") & (worse_misses["rank"] == 1)
    worse_misses.loc[at, "rank"] = 4
    moved = verdicts.paired_comparisons(
        zero_shot(), worse_misses, RUNS, FAMILIES, DELTA, primary_endpoint=ENDPOINT
    ).set_index(["task", "model"])
    assert moved.loc[tables.RETRIEVAL_TASK, "ToMCLIP"]["difference"] == pytest.approx(25.0)  # R@1 cannot see it
    # MCLIP misses 7 of its 12 (seed, language, item) queries, now at rank 4 (1/5); ToMA, MCLIP's own
    # hits with its misses at rank 1 (1/2), is ahead by (1/2 - 1/5) x 7/12, in points
    assert moved.loc[tables.RETRIEVAL_RR_TASK, "ToMA"]["difference"] == pytest.approx(100 * 0.3 * 7 / 12)


def test_the_primary_endpoint_is_one_marked_row_and_a_malformed_one_is_refused():
    table = compare().reset_index()
    marked = table[table["primary endpoint"]]
    assert marked[["family", "setting", "task", "model"]].values.tolist() == [
        ["primary", "low", tables.RETRIEVAL_RR_TASK, "ToMCLIP"]
    ]
    with pytest.raises(TomclipError, match="primary_endpoint"):
        compare(primary_endpoint={"setting": "low", "task": "retrieval R@1"})
    with pytest.raises(TomclipError, match="primary_endpoint"):
        compare(primary_endpoint={"setting": "medium", "task": tables.RETRIEVAL_RR_TASK})
    with pytest.raises(TomclipError, match="matches no comparison"):  # every record here is low-resource
        compare(primary_endpoint={"setting": "full", "task": tables.RETRIEVAL_RR_TASK})


def test_families_are_corrected_apart_and_verdicts_follow_the_adjusted_p_values():
    table = compare()
    primary = table[table["family"] == "primary"]
    assert primary["p_holm"].tolist() == pytest.approx(statistics.holm(primary["p_value"]).tolist())
    assert (primary["p_holm"] >= primary["p_value"]).all()
    toma = table.loc[tables.RETRIEVAL_TASK, "ToMA"]  # a difference of exactly 0 on every item
    assert toma["difference"] == 0 and toma["verdict"] == "equivalent"
    assert table.loc[tables.ZERO_SHOT_TASK, "ToMCLIP"]["verdict"] == "inconclusive"  # 1 df, +25 +- huge


def test_a_comparison_no_family_declares_stops_the_run():
    with pytest.raises(TomclipError, match=r"'ToMA' \(did you mean 'ToMCLIP'\?\)|'ToMA'"):
        compare(families={"primary": ["ToMCLIP"]})
    with pytest.raises(TomclipError, match="smallest_effect"):
        compare(smallest_effect={tables.ZERO_SHOT_TASK: 1.0})


def test_the_long_tables_are_functions_of_the_records():
    long = tables.zero_shot_table(zero_shot(), n_boot=100).set_index(["model", "seed", "language", "metric"])
    assert long.loc[("ToMCLIP", 0, "en", "top1"), "value"] == pytest.approx(2 / 3)
    assert long.loc[("ToMCLIP", 0, "avg", "top1"), "value"] == pytest.approx(0.5)
    table = tables.retrieval_table(retrieval(), n_boot=100).set_index(["model", "seed", "language", "metric"])
    assert table.loc[("ToMCLIP", 1, "ko", "text_to_image R@1"), "value"] == pytest.approx(2 / 3)
    assert table.loc[("ToMCLIP", 1, "ko", "image_to_text R@10"), "value"] == 1.0
    micro = table.xs("micro", level="language")
    assert micro.loc[("ToMCLIP", 1, "text_to_image R@1"), "value"] == pytest.approx(5 / 6)


def test_the_micro_interval_resamples_items_with_all_their_languages():
    """Two languages that agree on every item carry no more information than one: a cluster
    bootstrap gives exactly one language's interval, a pooled one would be narrower."""
    one_language = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1] * 5, dtype=float)
    both = np.stack([one_language, one_language])
    clustered = evaluate.clustered_interval(both, n_boot=4000, seed=3)
    assert clustered == evaluate.bootstrap_interval(one_language, n_boot=4000, seed=3)
    pooled = evaluate.bootstrap_interval(both.ravel(), n_boot=4000, seed=3)
    assert pooled[1] - pooled[0] < 0.8 * (clustered[1] - clustered[0])


def test_the_committed_verdict_is_a_function_of_the_committed_records():
    folder = paths.results_dir("embedded")
    parameters = config.notebook_parameters("embedded", "04_evaluate")
    recomputed = verdicts.paired_comparisons(
        pd.read_parquet(folder / "items_zero_shot.parquet"),
        pd.read_parquet(folder / "items_retrieval.parquet"),
        pd.read_csv(folder / "training_runs.csv"),
        parameters["families"],
        parameters["smallest_effect"],
        parameters["alpha"],
        primary_endpoint=parameters["primary_endpoint"],
    )
    committed = pd.read_csv(folder / "tomclip_vs_mclip.csv")
    pd.testing.assert_frame_equal(
        recomputed.reset_index(drop=True), committed, check_dtype=False, rtol=1e-12, check_exact=False
    )
