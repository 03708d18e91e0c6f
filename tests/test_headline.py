"""The README's headline table (tomclip_lib.stages.headline): each model against its own MCLIP."""

import pandas as pd

from tomclip_lib.stages import headline


def verdict_row(model, baseline, setting, task, difference, low, high, baseline_score, verdict, family="secondary"):
    return dict(
        family=family,
        model=model,
        baseline=baseline,
        setting=setting,
        task=task,
        difference=difference,
        ci_low=low,
        ci_high=high,
        score=baseline_score + difference,
        **{"baseline score": baseline_score},
        seeds=5,
        items=373,
        p_holm=0.01,
        delta=0.25,
        mde=0.2,
        verdict=verdict,
    )


def test_a_top_layer_model_sits_under_its_own_mclip_and_a_setting_not_run_is_marked():
    retrieval = "retrieval text->image R@1"
    verdicts = pd.DataFrame(
        [
            verdict_row(
                "ToMCLIP (top layer)",
                "MCLIP (top layer)",
                "low",
                retrieval,
                -0.01,
                -0.12,
                0.12,
                2.45,
                "equivalent",
            ),
            verdict_row("ToMCLIP", "MCLIP", "low", retrieval, 0.5, 0.1, 0.9, 4.70, "better", "primary"),
            verdict_row("ToMCLIP", "MCLIP", "full", retrieval, -0.2, -0.6, 0.2, 6.94, "inconclusive", "primary"),
            verdict_row("ToMA", "MCLIP", "low", retrieval, 0.04, -0.12, 0.2, 4.70, "equivalent"),
        ]
    )
    table, sentence = headline.headline(verdicts)
    assert list(table["model"]) == [
        "MCLIP: its score (%)",
        "ToMCLIP",
        "ToMA",
        "MCLIP (top layer): its score (%)",
        "ToMCLIP (top layer)",
    ]
    rows = table.set_index("model")
    assert rows.loc["MCLIP (top layer): its score (%)", "retrieval R@1, low"] == "2.5"
    assert rows.loc["ToMCLIP", "retrieval R@1, low"] == "+0.50 [+0.10, +0.90] better"
    assert rows.loc["ToMA", "retrieval R@1, full"] == headline.NOT_RUN
    assert "zero-shot top-1, low" not in table.columns  # no task of which nothing was measured
    assert "ToMCLIP against MCLIP, low retrieval text->image R@1: +0.50 [+0.10, +0.90] points (5 seeds" in sentence
    assert sentence.endswith(  # the families in the table's order
        "secondary (2 comparisons): better 0, worse 0, equivalent 2, inconclusive 0; "
        "primary (2 comparisons): better 1, worse 0, equivalent 0, inconclusive 1."
    )


def test_the_primary_endpoint_leads_the_sentences_and_the_findings_name_it():
    reciprocal, r1 = "retrieval text->image reciprocal rank", "retrieval text->image R@1"
    verdicts = pd.DataFrame(
        [
            verdict_row("ToMCLIP", "MCLIP", "low", r1, 0.5, 0.1, 0.9, 4.70, "better", "primary"),
            verdict_row("ToMCLIP", "MCLIP", "low", reciprocal, -0.1, -0.3, 0.1, 11.5, "equivalent", "primary"),
        ]
    ).assign(**{"primary endpoint": [False, True]})
    table, sentence = headline.headline(verdicts)
    assert sentence.startswith("ToMCLIP against MCLIP, low retrieval text->image reciprocal rank: -0.10")
    assert list(table.columns) == ["model", "retrieval reciprocal rank, low", "retrieval R@1, low"]
    # Whether the shape moved comes right after the answer, before the other primary sentences.
    _, with_shape = headline.headline(verdicts, "Did the terms change the geometry? Barely.")
    order = [with_shape.index(part) for part in ("reciprocal rank: -0.10", "Barely", "text->image R@1: +0.50")]
    assert order == sorted(order)


def test_the_geometry_sentence_gives_each_shape_change_relative_to_mclip_and_the_dose_at_its_largest():
    shape = pd.DataFrame(
        [
            dict(model="ToMCLIP", setting="low", metric="l_ta", difference=-0.0005, ci_low=-0.0007, ci_high=-0.0003)
            | {"baseline value": 0.05, "verdict": "more coherent"},
            dict(model="ToMCLIP", setting="full", metric="l_ta", difference=-0.1, ci_low=-0.2, ci_high=0.0)
            | {"baseline value": 0.05, "verdict": "no difference resolved"},  # not the low-resource row: left out
        ]
    )
    response = pd.DataFrame(
        [
            dict(model="ToMA", weight=w, endpoint=e, split=s, difference=d, ci_low=d - 0.01, ci_high=d + 0.01)
            | {"loss share": share, "MCLIP value": 0.05 if e == "l_ta" else 0.1}
            for w, share, ta, rr in ((1e-3, 0.02, -0.001, 0.0), (1e-2, 0.5, 0.004, -0.02))
            for e, s, d in (
                ("l_ta", "validation", ta),
                ("reciprocal rank", "test", rr),
                ("reciprocal rank", "validation", 9),
            )
        ]
    )
    text = headline.geometry_sentence(shape, response)
    assert "L_ta -0.0005 [-0.0007, -0.0003] (-1.00% of MCLIP's 0.05; more coherent)." in text
    assert "-0.2" not in text
    # ToMA's L_ta moved most (+8% of MCLIP's level) at 0.01, where the test reciprocal rank fell 2 points.
    assert "ToMA's held-out L_ta moves most at weight 0.01 (the terms 50% of the loss): +8.0% of MCLIP's" in text
    assert "test reciprocal rank moves -2.00 [-3.00, -1.00] points" in text
    assert headline.geometry_sentence(None, None) == ""
