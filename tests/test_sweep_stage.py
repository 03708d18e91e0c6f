"""Notebook 03's dose-response sweep (stages.sweep): which settings it trains, how it chooses, and each
weight against MCLIP, paired by seed and unit, on small hand-made records."""

import numpy as np
import pandas as pd
import pytest

from tomclip_lib import plots, statistics
from tomclip_lib.analysis import coherence as metrics
from tomclip_lib.errors import TomclipError
from tomclip_lib.stages import sweep


def test_the_grid_holds_mclip_then_each_model_at_every_weight_and_the_balanced_one():
    grid = sweep.sweep_grid(["ToMCLIP", "ToMA"], [1e-2, 1e-3], factor=0.02)
    assert grid == [("MCLIP", 0.0)] + [(m, w) for m in ("ToMCLIP", "ToMA") for w in (2e-4, 1e-3, 1e-2)]
    assert sweep.swept_weights("ToMCLIP", 0.5) == {"pointwise": 1.0, "distance_matrix": 0.5, "topology_h0": 0.5}
    assert sweep.swept_weights("ToMA", 0.5) == {"pointwise": 1.0, "toma": 0.5}
    with pytest.raises(TomclipError, match="positive"):
        sweep.sweep_grid(["ToMCLIP"], [0.0], factor=1.0)
    with pytest.raises(TomclipError, match="not an objective"):
        sweep.swept_weights("ToMCLIP-typo", 0.1)


def runs(rr: dict[tuple[str, float], list[float]]) -> pd.DataFrame:
    rows = []
    for (model, weight), values in rr.items():
        for seed, value in enumerate(values):
            rows.append(
                dict(
                    model=model,
                    weight=weight,
                    seed=seed,
                    **{"paper-balanced": False, "epochs": 3, "ms per step": 1.0, "loss share": weight * 10},
                    **{"gradient share": weight * 20, "validation reciprocal rank": value, "validation R@1": 0.1},
                    **{"retrieval R@1": 0.1, "zero-shot top-1": 0.2},
                )
            )
    return pd.DataFrame(rows)


def test_validation_reciprocal_rank_chooses_and_a_tie_goes_to_the_smaller_weight():
    table = runs(
        {
            ("MCLIP", 0.0): [0.9, 0.9],  # MCLIP's own score never competes
            ("ToMCLIP", 1e-3): [0.3, 0.5],
            ("ToMCLIP", 1e-4): [0.2, 0.6],  # the same mean as 1e-3: the smaller weight wins the tie
            ("ToMCLIP", 1e-2): [0.1, 0.2],
            ("ToMA", 1e-2): [0.8, 0.8],  # ToMA's never either
        }
    )
    assert sweep.chosen_weight(table) == 1e-4
    assert sweep.chosen_weights(table) == {"pointwise": 1.0, "distance_matrix": 1e-4, "topology_h0": 1e-4}
    summary = sweep.score_summary(table)
    assert summary.loc[summary["chosen"], "weight"].tolist() == [1e-4]
    assert summary.set_index(["model", "weight"]).loc[("ToMCLIP", 1e-3), "validation reciprocal rank mean"] == 40.0
    assert sweep.chosen_weight(table[table["model"] != "ToMCLIP"]) is None


def measured(mclip: np.ndarray, tomclip: np.ndarray) -> sweep.SweepRecords:
    """Two runs sets, (seeds, units) each: the units' coherence (every metric alike) and one split's
    ranks whose reciprocal rank is the same value (rank = 1/value - 1)."""
    coherence, ranks = [], []
    for (model, weight), values in {("MCLIP", 0.0): mclip, ("ToMCLIP", 1e-3): tomclip}.items():
        for seed, row in enumerate(values):
            for unit, value in enumerate(row):
                keys = dict(model=model, weight=weight, seed=seed, language="en")
                coherence.append(keys | dict(batch=unit, captions=8) | {m: value for m in metrics.METRICS})
                for split in sweep.RANK_SPLITS:
                    ranks.append(keys | dict(split=split, query=unit, rank=round(1 / value) - 1))
    table = runs({("MCLIP", 0.0): [0.5] * len(mclip), ("ToMCLIP", 1e-3): [0.5] * len(tomclip)})
    return sweep.SweepRecords(table, pd.DataFrame(ranks), pd.DataFrame(coherence))


def test_each_weight_minus_mclip_by_hand_paired_by_seed_and_unit():
    mclip = np.array([[1 / 2, 1 / 4, 1 / 5], [1 / 2, 1 / 2, 1 / 4]])
    tomclip = np.array([[1 / 1, 1 / 4, 1 / 4], [1 / 2, 1 / 1, 1 / 4]])
    table = sweep.dose_response(measured(mclip, tomclip)).set_index(["endpoint", "split"])
    assert set(table.index) == {(e, "validation") for e in sweep.COHERENCE_ENDPOINTS} | {
        (sweep.RECIPROCAL_RANK, s) for s in sweep.RANK_SPLITS
    }
    differences = tomclip - mclip
    row = table.loc[(sweep.RECIPROCAL_RANK, "test")]
    assert row["difference"] == pytest.approx(differences.mean(), abs=1e-15)
    assert (row["seeds"], row["units"], row["weight"], row["loss share"]) == (2, 3, 1e-3, 1e-2)
    # The interval is statistics' on exactly this (seeds, units) matrix: the pairing is what is tested here.
    expected = statistics.paired_difference(differences)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((expected.ci_low, expected.ci_high), abs=1e-15)
    # Lower-is-better coherence metrics keep the sign of model - MCLIP, with their side named.
    assert table.loc[("l_ta", "validation"), "better is"] == "lower"
    assert table.loc[("l_ta", "validation"), "difference"] == pytest.approx(differences.mean(), abs=1e-15)
    assert table.loc[("fidelity", "validation"), "better is"] == "higher"


def test_a_unit_undefined_in_a_run_is_left_out_and_a_wholly_undefined_endpoint_stops():
    mclip = np.array([[0.5, 0.25, 0.2], [0.5, 0.5, 0.25]])
    tomclip = np.array([[1.0, 0.25, 0.25], [0.5, 1.0, 0.25]])
    records = measured(mclip, tomclip)
    records.coherence.loc[(records.coherence["model"] == "ToMCLIP") & (records.coherence["batch"] == 2), "l_ta"] = (
        np.nan
    )
    table = sweep.dose_response(records).set_index(["endpoint", "split"])
    assert table.loc[("l_ta", "validation"), "units"] == 2
    assert table.loc[("l_ta", "validation"), "difference"] == pytest.approx((tomclip - mclip)[:, :2].mean())
    records.coherence.loc[records.coherence["model"] == "ToMCLIP", "l_dm"] = np.nan
    with pytest.raises(TomclipError, match="l_dm is undefined"):
        sweep.dose_response(records)


def test_nothing_swept_gives_empty_tables_and_the_figure_draws_what_there_is():
    empty = sweep.SweepRecords(pd.DataFrame(columns=["model", "weight", "seed"]), pd.DataFrame(), pd.DataFrame())
    assert sweep.dose_response(empty).empty and sweep.score_summary(empty.runs).empty
    assert sweep.chosen_weight(empty.runs) is None
    table = sweep.dose_response(measured(np.array([[0.5, 0.25, 0.2]]), np.array([[1.0, 0.25, 0.25]])))
    # No language had validation captions enough for a coherence batch: retrieval alone is paired.
    no_shape = measured(np.array([[0.5, 0.25, 0.2]]), np.array([[1.0, 0.25, 0.25]]))._replace(coherence=pd.DataFrame())
    assert set(sweep.dose_response(no_shape)["endpoint"]) == {sweep.RECIPROCAL_RANK}
    fig = plots.dose_response(table, "dose")
    assert len(fig.axes) == 4 and all(ax.get_xscale() == "log" for ax in fig.axes)
