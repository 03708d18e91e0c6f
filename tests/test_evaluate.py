"""Evaluation metrics on small cases computed by hand, bootstrap intervals, and the summary tables."""

import numpy as np
import pandas as pd
import pytest
import torch

from tomclip_lib import evaluate, report
from tomclip_lib.errors import TomclipError
from tomclip_lib.stages import ablations, findings, grid, tables


def unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_zero_shot_accuracy_by_hand():
    classes = unit([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    images = unit(
        [
            [0.9, 0.1, 0.0],  # class 0: nearest 0              -> top1 hit
            [0.6, 0.5, 0.0],  # class 1: 0 first, 1 second      -> top2 hit only
            [0.1, 0.7, 0.3],
        ]
    )  # class 2: 1 first, 2 second      -> top2 hit only
    result = evaluate.zero_shot_accuracy(images, classes, [0, 1, 2], topk=(1, 2, 3))
    assert result == {"top1": pytest.approx(1 / 3), "top2": pytest.approx(1.0), "top3": pytest.approx(1.0)}


def test_ties_count_against_the_truth():
    classes = unit([[1, 0], [1, 0]])  # two identical prompts
    images = unit([[1, 0]])
    assert evaluate.zero_shot_accuracy(images, classes, [1], topk=(1, 2)) == {"top1": 0.0, "top2": 1.0}


def test_retrieval_recall_by_hand():
    texts = unit([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    images = unit(
        [
            [1, 0, 0],  # pair 0 matches best both ways
            [0, 0.2, 1],  # image 1 is nearest to text 2
            [0, 1, 0.3],
        ]
    )  # image 2 is nearest to text 1
    hits = evaluate.retrieval_hits(texts, images, ks=(1, 2))
    assert hits[("text_to_image", 1)].tolist() == [True, False, False]
    assert hits[("text_to_image", 2)].tolist() == [True, True, True]
    assert hits[("image_to_text", 1)].tolist() == [True, False, False]
    table = evaluate.retrieval_recall(texts, images, ks=(1, 2), n_boot=500)
    assert table.set_index("metric").loc["text_to_image R@1", "value"] == pytest.approx(1 / 3)
    assert set(table["metric"]) == {"text_to_image R@1", "text_to_image R@2", "image_to_text R@1", "image_to_text R@2"}


def test_bootstrap_intervals_are_fixed_by_the_seed_and_contain_the_mean():
    hits = np.random.default_rng(0).random(400) < 0.3
    low, high = evaluate.bootstrap_interval(hits, n_boot=2000, seed=7)
    assert (low, high) == evaluate.bootstrap_interval(hits, n_boot=2000, seed=7)
    assert low < hits.mean() < high and high - low == pytest.approx(2 * 1.96 * np.sqrt(0.3 * 0.7 / 400), rel=0.2)
    assert evaluate.bootstrap_interval(np.ones(50), n_boot=100) == (1.0, 1.0)
    values = np.random.default_rng(1).random(300)  # not 0/1: resampled explicitly
    low, high = evaluate.bootstrap_interval(values, n_boot=2000)
    assert low < values.mean() < high


def test_binomial_shortcut_matches_explicit_resampling():
    hits = (np.random.default_rng(3).random(500) < 0.4).astype(float)
    rng = np.random.default_rng(0)
    explicit = hits[rng.integers(0, 500, (4000, 500))].mean(axis=1)
    low, high = evaluate.bootstrap_interval(hits, n_boot=4000)
    assert low == pytest.approx(np.quantile(explicit, 0.025), abs=0.01)
    assert high == pytest.approx(np.quantile(explicit, 0.975), abs=0.01)


@pytest.mark.parametrize(
    "images, classes, labels, message",
    [
        (np.ones((2, 3)), np.ones((4, 2)), [0, 1], "dimension"),
        (np.full((2, 3), np.nan), np.ones((4, 3)), [0, 1], "NaN"),
        (np.ones((2, 3)), np.ones((4, 3)), [0, 9], "class index"),
        (np.ones((0, 3)), np.ones((4, 3)), [], "non-empty"),
    ],
)
def test_bad_inputs_get_clear_errors(images, classes, labels, message):
    with pytest.raises(TomclipError, match=message):
        evaluate.zero_shot_accuracy(images, classes, labels)


def test_retrieval_needs_one_caption_per_image():
    with pytest.raises(TomclipError, match="one to one"):
        evaluate.retrieval_recall(np.ones((3, 2)), np.ones((4, 2)))


def long_rows():
    rows = []
    for model, base in (("MCLIP", 0.50), ("ToMCLIP", 0.52)):
        for seed in (0, 1, 2):
            for lang, shift in (("en", 0.1), ("ko", -0.1)):
                rows.append(
                    dict(
                        model=model,
                        setting="low",
                        language=lang,
                        metric="top1",
                        value=base + shift + 0.01 * seed,
                        ci_low=0,
                        ci_high=1,
                        seed=seed,
                    )
                )
    return pd.DataFrame(rows, columns=evaluate.TABLE_COLUMNS)


def test_language_average_and_seed_summary():
    table = evaluate.language_average(long_rows())
    averages = table[table["language"] == "avg"]
    assert len(averages) == 6 and averages["value"].round(6).tolist()[:3] == [0.50, 0.51, 0.52]
    summary = evaluate.summarize_seeds(averages)
    assert summary.set_index("model").loc["ToMCLIP", "mean"] == pytest.approx(0.53)
    assert summary.set_index("model").loc["ToMCLIP", "sd"] == pytest.approx(0.01)


def test_wide_table_shows_mean_and_sd_in_percent():
    table = evaluate.language_average(long_rows())
    wide = tables.wide_table(table, "top1", "low", ["en", "ko"])
    assert wide.columns.tolist() == ["model", "en", "ko", "avg"]
    assert wide.set_index("model").loc["ToMCLIP", "en"] == "63.0 ± 1.0"


def test_findings_state_the_tables_in_words(output_dirs):
    from tomclip_lib import paths

    folder = paths.results_dir("unit")
    folder.mkdir(parents=True)
    pd.DataFrame(
        [
            dict(
                family="primary",
                setting="low",
                task="retrieval text->image R@1",
                model="ToMCLIP",
                baseline="MCLIP",
                score=1.0,
                difference=-9.0,
                ci_low=-10.2,
                ci_high=-0.0049,
                p_holm=0.01,
                delta=0.25,
                mde=3.0,
                seeds=5,
                items=350,
                wins=0,
                verdict="worse",
                **{"baseline score": 10.0},
            )
        ]
    ).to_csv(folder / "tomclip_vs_mclip.csv")
    pd.DataFrame(
        [{"measure": "local", "median Spearman": -0.8}, {"measure": "global", "median Spearman": -0.2}]
    ).to_csv(folder / "geometry_predictiveness.csv")
    pd.DataFrame(
        [
            dict(variant="MCLIP", trainable_layers=0, best_epoch=20, epochs=25),
            dict(variant="MCLIP (top layer)", trainable_layers=1, best_epoch=6, epochs=6),
            dict(variant="ToMCLIP (top layer)", trainable_layers=1, best_epoch=4, epochs=6),
            dict(variant="ToMCLIP", trainable_layers="all", best_epoch=3, epochs=3),
        ]
    ).to_csv(folder / "training_runs.csv")
    pd.DataFrame(
        [
            dict(model=model, setting="full", task="zero-shot top-1", student=s, teacher=80.0, fraction=s / 80)
            for model, s in (("MCLIP", 40.0), ("MCLIP (converged)", 48.0))
        ]
    ).assign(fraction_low=[None, 0.55], fraction_high=[None, 0.65]).to_csv(folder / "teacher_fraction.csv")
    pd.DataFrame(
        [
            {"model": "MCLIP (converged)", "setting": "full", "name in training": seen, "classes": n, "fraction": f}
            for seen, n, f in ((True, 6, 0.8), (False, 4, 0.3))
        ]
    ).to_csv(folder / "teacher_fraction_by_vocabulary.csv")
    text = findings.write_findings("unit")
    assert (
        "MCLIP (full setting, early-stopped) learnt its teacher, its English score over the teacher's: "
        "zero-shot top-1 40.0 of 80.0 (0.50); "  # no interval in its row: none printed
    ) in text
    assert (
        "MCLIP (converged) (full setting, trained to convergence) learnt its teacher, its English score over the "
        "teacher's: zero-shot top-1 48.0 of 80.0 (0.60 [0.55, 0.65]); zero-shot on the 6 classes whose names it read in "
        "training 0.80, on the other 4 0.30; issue 29's target is 0.75"
    ) in text
    assert "top backbone layer trains: 1 of 2 runs had their best validation loss at their last epoch" in text
    assert "better: none" in text and "ToMCLIP -9.00 [-10.20, -0.005]" in text  # the bound keeps its side of 0
    assert "worse: ToMCLIP (low, retrieval text->image R@1, -9.00 [-10.20, -0.005])" in text
    headline = (folder / "headline.md").read_text()
    assert "primary (1 comparisons): better 0, worse 1, equivalent 0, inconclusive 0" in headline
    assert "Local predicts retrieval more strongly" in text
    assert (folder / "findings.md").read_text() == text


def test_retrieval_queries_find_each_caption_in_a_shared_gallery():
    gallery = unit([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]])  # more rows than any language has captions
    embeddings = {"a": [1, 0, 0], "b": [0, 0.9, 0.1], "c": [1, 0.9, 0], "d": [0, 0.1, 1]}
    queries = evaluate.RetrievalQueries(
        gallery, {"en": ["a", "b"], "ko": ["c", "d"]}, {"en": np.array([0, 1]), "ko": np.array([0, 2])}
    )
    # en: both found (1.0); ko: "c" lies nearest row 3, not its truth 0, "d" is found (0.5).
    assert queries.recall_at_1(lambda texts: unit([embeddings[t] for t in texts])) == pytest.approx(0.75)


@pytest.mark.parametrize("truth", [np.array([0]), np.array([0, 4])], ids=["too few", "outside the gallery"])
def test_retrieval_queries_refuse_a_truth_that_does_not_fit(truth):
    with pytest.raises(TomclipError, match="one gallery row in 0..3 per caption"):
        evaluate.RetrievalQueries(unit(np.eye(4)), {"en": ["a", "b"]}, {"en": truth})


def test_the_best_setting_breaks_ties_by_table_order_and_names_them():
    import pandas as pd

    summary = pd.DataFrame({"setting": ["exact", "reference", "diagram"], "validation R@1 mean": [10.9, 10.9, 3.0]})
    row, tied = ablations.best_setting(summary)
    assert row["setting"] == "exact" and tied == ["reference"]
    assert ablations.describe_best(summary) == "exact (validation R@1 10.9; tied with reference)"
    assert ablations.describe_best(summary.iloc[::-1]) == "reference (validation R@1 10.9; tied with exact)"
    assert (
        ablations.describe_best(summary.iloc[1:].assign(**{"validation R@1 mean": [1.0, 2.0]}))
        == "diagram (validation R@1 2.0)"
    )


def test_which_models_hinge_on_discrete_topological_choices():
    assert not grid.trained_with_topology("MCLIP")
    assert not grid.trained_with_topology("CLIP (teacher text tower)")
    assert all(grid.trained_with_topology(m) for m in ("ToMCLIP", "ToMCLIP(dm)", "ToMCLIP(ta)", "ToMA", "Topo-AE"))


def test_rankings_are_computed_in_float64():
    """Scores that float32 rounds to a tie (1 and 1 + 1e-8) keep their order: rankings must not
    hinge on the last bits of a BLAS kernel."""
    import numpy as np

    from tomclip_lib import evaluate

    images = np.array([[1.0, 1e-8]], dtype=np.float32)
    classes = np.array([[1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
    assert np.float32(1.0) + np.float32(1e-8) == np.float32(1.0), "a tie in float32"
    assert evaluate.zero_shot_accuracy(images, classes, np.array([1]), topk=(1,))["top1"] == 1.0
    assert evaluate.zero_shot_accuracy(images, classes, np.array([0]), topk=(1,))["top1"] == 0.0


# Paired comparison with MCLIP: hits of shape (seeds, languages, items).


def test_the_balance_factor_scales_the_topological_weights_to_the_reference_targets():
    unit = torch.nn.functional.normalize(torch.randn(50, 384, generator=torch.Generator().manual_seed(0)), dim=1)
    # unit-norm 384-d targets: mean squared entry 1/384; reference targets of norm 10 in 512-d: 100/512
    assert grid.balance_factor(unit, 10.0) == pytest.approx((1 / 384) / (100 / 512), rel=1e-6)
    assert grid.balance_factor(unit * 10 * (384 / 512) ** 0.5, 10.0) == pytest.approx(1.0, rel=1e-6)
    assert grid.balance_factor(unit, None) == 1.0  # the targets are the reference's own
    with pytest.raises(TomclipError, match="positive"):
        grid.balance_factor(unit, 0.0)
    weights = grid.scaled_weights("ToMCLIP", 0.5)
    assert weights == {"pointwise": 1.0, "distance_matrix": 0.005, "topology_h0": 0.005}


def test_the_main_grid_holds_the_variants_balanced_the_chosen_one_and_the_top_layer_students():
    models = grid.main_grid(
        ["MCLIP", "ToMCLIP", "ToMA"],
        ["MCLIP", "ToMCLIP"],
        0.1,
        {"pointwise": 1.0, "distance_matrix": 2e-3, "topology_h0": 2e-3},
        1,
        ["MCLIP"],
        {"max_epochs": 6},
    )
    by_name = {model.name: model for model in models}
    # Validation choosing the paper-balanced weights (0.01 x 0.1) adds no row: it would repeat ToMCLIP's students.
    balanced = grid.main_grid(["MCLIP", "ToMCLIP"], [], 0.1, grid.scaled_weights("ToMCLIP", 0.1), 0, [])
    assert [row.name for row in balanced] == ["MCLIP", "ToMCLIP"]
    assert list(by_name) == ["MCLIP", "ToMCLIP", "ToMA", "ToMCLIP (chosen)", "MCLIP (top layer)"]
    assert by_name["ToMA"].settings == ("low",) and by_name["ToMA"].weights["toma"] == pytest.approx(0.001)
    assert by_name["ToMCLIP (chosen)"].settings == ("low",)
    top = by_name["MCLIP (top layer)"]
    assert (top.trainable_layers, top.settings, top.training) == (1, ("low",), {"max_epochs": 6})
    assert grid.trained_with_topology("ToMCLIP (chosen)") and not grid.trained_with_topology("MCLIP (top layer)")
    assert [by_name[name].baseline for name in by_name] == [None, "MCLIP", "MCLIP", "MCLIP", None]


def test_the_fixed_epoch_rows_pair_with_each_other_and_top_layer_rows_train_fewer_seeds():
    models = grid.main_grid(["MCLIP", "ToMCLIP"], [], 1.0, None, 1, ["MCLIP", "ToMCLIP"], {}, 2, 20)
    by_name = {model.name: model for model in models}
    fixed = by_name["ToMCLIP (fixed epochs)"]
    assert fixed.baseline == "MCLIP (fixed epochs)" and fixed.training == {"max_epochs": 20, "patience": None}
    assert by_name["MCLIP (fixed epochs)"].baseline is None and fixed.settings == ("low",)
    assert by_name["ToMCLIP (top layer)"].baseline == "MCLIP (top layer)" and by_name["ToMCLIP (top layer)"].seeds == 2
    assert by_name["ToMCLIP"].seeds is None and fixed.seeds is None
    fewer = grid.main_grid(["MCLIP", "ToMCLIP"], [], 1.0, None, 0, [], {}, None, 20, 5)
    assert [(row.name, row.seeds) for row in fewer if "fixed" in row.name] == [
        ("MCLIP (fixed epochs)", 5),
        ("ToMCLIP (fixed epochs)", 5),
    ]


def test_the_converged_rows_train_in_the_full_setting_with_a_cosine_rate_and_pair_with_each_other():
    assert not any("converged" in row.name for row in grid.main_grid(["MCLIP"], ["MCLIP"], 1.0, None, 0, []))
    models = grid.main_grid(["MCLIP", "ToMCLIP"], [], 0.5, None, 0, [], None, None, None, None, 80, 2)
    by_name = {model.name: model for model in models}
    mclip, tomclip = by_name["MCLIP (converged)"], by_name["ToMCLIP (converged)"]
    assert mclip.training == tomclip.training == {"max_epochs": 80, "patience": None, "lr_schedule": "cosine"}
    assert mclip.settings == tomclip.settings == ("full",) and mclip.seeds == tomclip.seeds == 2
    assert not mclip.capped and not tomclip.capped  # their length is the point: the grid's max_epochs does not cap it
    assert (mclip.baseline, tomclip.baseline) == (None, "MCLIP (converged)")
    assert tomclip.weights == grid.scaled_weights("ToMCLIP", 0.5) and mclip.variant == "MCLIP"


def test_the_grids_epoch_limit_caps_every_row_but_one_trained_to_convergence(tmp_path, monkeypatch):
    """A smoke run's max_epochs holds for the top-layer rows' own 6 epochs, not for the converged rows' 80."""
    from tomclip_lib import paths
    from tomclip_lib.models.student import StudentConfig
    from tomclip_lib.stages import distillation
    from tomclip_lib.train import TrainConfig

    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: tmp_path)
    rows = grid.main_grid(["MCLIP"], ["MCLIP"], 1.0, None, 1, ["MCLIP"], {"max_epochs": 6}, 1, None, None, 80, 1)
    data = {
        (layers, setting, 0, "noun"): distillation.DistillationPairs(None, None, "key")
        for layers in (0, 1)
        for setting in ("full", "low")
    }
    runs = distillation._grid(
        "smoke", TrainConfig(max_epochs=2), StudentConfig(), rows, {"full": [0], "low": [0]}, data
    )
    epochs = {(row.name, config.setting): config.max_epochs for row, config, _, _ in runs}
    assert epochs[("MCLIP", "full")] == epochs[("MCLIP (top layer)", "low")] == 2
    assert epochs[("MCLIP (converged)", "full")] == epochs[("ToMCLIP (converged)", "full")] == 80


def test_a_model_without_its_own_layer_count_trains_what_the_grids_student_trains():
    """The paper profile fine-tunes the whole backbone: its main models must not fall back to a frozen one."""
    from tomclip_lib.models.student import StudentConfig

    whole = StudentConfig(backbone="xlm-roberta-large", out_dim=512, trainable_layers="all")
    main, top = grid.main_grid(["MCLIP"], ["MCLIP"], 1.0, None, 1, ["MCLIP"])
    assert grid.student_of(main, whole).trainable_layers == "all"
    assert grid.student_of(top, whole).trainable_layers == 1


def test_an_ablation_summary_keeps_its_knobs_as_columns_and_writes_them_as_given():
    runs = pd.DataFrame(
        [
            {
                "ablation": "graph H1",
                "setting": label,
                "h1 weight": weight,
                "seed": seed,
                "epochs": 3,
                "ms per step": 10.0,
                "validation R@1": value,
                "retrieval R@1": value,
                "zero-shot top-1": value,
            }
            for label, weight, values in (("H1 off", 0.0, (0.1, 0.3)), ("H1 on", 0.001, (0.2, 0.2)))
            for seed, value in zip((0, 1), values)
        ]
    )
    summary = ablations.ablation_summary(runs)
    assert list(summary.columns[:3]) == ["setting", "h1 weight", "seeds"]
    assert summary["h1 weight"].tolist() == [0.0, 0.001]
    assert summary["validation R@1 mean"].tolist() == pytest.approx([20.0, 20.0])
    table = report.markdown_table(summary, ablations._formats(summary, ".2f"))
    assert "0.001" in table and "20.00" in table, "a knob as written, the scores in their format"
