"""Notebook 04's structural coherence (stages.coherence): which captions are measured, and each model
against its MCLIP, paired by seed and (language, batch), on small hand-computed records."""

import numpy as np
import pandas as pd
import pytest

from tomclip_lib import plots
from tomclip_lib.analysis import coherence as metrics
from tomclip_lib.errors import TomclipError
from tomclip_lib.stages import coherence

RUNS = pd.DataFrame(
    [
        dict(variant="MCLIP", baseline=None),
        dict(variant="ToMCLIP", baseline="MCLIP"),
    ]
)


def corpus(per_language: int = 30) -> pd.DataFrame:
    rows = [
        dict(lang=lang, text=f"{lang}-{i}", en=f"caption {i}", split=split)
        for split in ("train", "test")
        for lang in ("ko", "en")
        for i in range(per_language)
    ]
    rows.append(dict(lang="ko", text="ko-again", en="caption 0", split="test"))  # a second name of one target
    return pd.DataFrame(rows)


def test_held_out_captions_are_one_per_target_in_language_order_and_batches_trim_them():
    pairs = coherence.held_out_pairs(corpus(), ["en", "ko", "fr"], "test", batch_size=8)
    assert list(pd.unique(pairs["lang"])) == ["en", "ko"]  # the order given; French has no captions, left out
    assert (pairs.groupby("lang").size() == 30).all() and "ko-again" not in set(pairs["text"])
    first = coherence.held_out_pairs(corpus(), ["en", "ko"], "test", batch_size=8, batches=1)
    # 30 captions cut as training cuts them: 4 batches of 8, 8, 7, 7; the first kept per language
    assert first.groupby("lang").size().tolist() == [8, 8]
    assert first[first["lang"] == "en"]["text"].tolist() == [f"en-{i}" for i in range(8)]
    with pytest.raises(TomclipError, match="coherence_split"):
        coherence.held_out_pairs(corpus(), ["en"], "validation", batch_size=8)


def records(values: dict[str, list[list[float]]]) -> pd.DataFrame:
    """values[model][seed] = one value per (language, batch) unit, for every metric alike."""
    units = [("en", 0), ("en", 1), ("ko", 0)]
    rows = []
    for model, by_seed in values.items():
        for seed, by_unit in enumerate(by_seed):
            for (language, batch), value in zip(units, by_unit):
                rows.append(
                    dict(model=model, setting="low", seed=seed, language=language, batch=batch, captions=8)
                    | {metric: value for metric in metrics.METRICS}
                )
    frame = pd.DataFrame(rows)
    frame["seed"] = frame["seed"].astype("Int16")
    return frame


def test_a_paired_difference_by_hand_and_its_side_per_metric():
    # ToMCLIP - MCLIP is +0.1 in every (seed, unit), for every metric
    table = records({"MCLIP": [[0.5, 0.6, 0.7], [0.4, 0.5, 0.6]], "ToMCLIP": [[0.6, 0.7, 0.8], [0.5, 0.6, 0.7]]})
    paired = coherence.paired_coherence(table, RUNS).set_index("metric")
    assert paired["difference"].to_numpy() == pytest.approx(np.full(len(metrics.METRICS), 0.1))
    assert (paired["seeds"] == 2).all() and (paired["units"] == 3).all()
    # every difference is exactly +0.1: higher is closer for the rank correlation, lower for L_ta
    assert paired.loc["rank_correlation", "verdict"] == "more coherent"
    assert paired.loc["l_ta", "verdict"] == "less coherent"
    assert paired.loc["fidelity", "baseline value"] == pytest.approx(0.55)


def test_an_unresolved_difference_and_an_undefined_metric():
    table = records({"MCLIP": [[0.5, 0.6, 0.7], [0.4, 0.5, 0.6]], "ToMCLIP": [[0.6, 0.5, 0.7], [0.3, 0.6, 0.6]]})
    paired = coherence.paired_coherence(table, RUNS).set_index("metric")
    # differences seed 0 [+.1, -.1, 0], seed 1 [-.1, +.1, 0]: an interval around 0, whichever side is closer
    assert paired.loc["fidelity", "verdict"] == "no difference resolved"
    assert paired.loc["l_ta", "verdict"] == "no difference resolved"
    shifted = table.assign(l_ta=table["l_ta"] - np.where(table["model"] == "ToMCLIP", 0.05, 0.0))
    lower = coherence.paired_coherence(shifted, RUNS).set_index("metric").loc["l_ta"]
    assert lower["ci_low"] < -0.05 < lower["ci_high"] < 0 and lower["verdict"] == "more coherent"
    table.loc[0, "rank_correlation"] = np.nan  # a collapsed student's batch: its unit leaves the pairing
    paired = coherence.paired_coherence(table, RUNS).set_index("metric")
    assert paired.loc["rank_correlation", "units"] == 2 and paired.loc["fidelity", "units"] == 3
    table["rank_correlation"] = np.nan
    with pytest.raises(TomclipError, match="rank_correlation is undefined"):
        coherence.paired_coherence(table, RUNS)


def test_the_summary_and_the_figure():
    table = records({"MCLIP": [[0.5, 0.6, 0.7], [0.4, 0.5, 0.6]], "ToMCLIP": [[0.6, 0.7, 0.8], [0.5, 0.6, 0.7]]})
    summary = coherence.summary(table).set_index("model")
    assert summary.loc["MCLIP", "fidelity mean"] == pytest.approx(0.55)
    assert summary.loc["MCLIP", "fidelity sd"] == pytest.approx(np.std([0.6, 0.5], ddof=1))
    figure = plots.coherence_differences(coherence.paired_coherence(table, RUNS), "low", "test")
    assert len(figure.axes) == len(metrics.METRICS)
