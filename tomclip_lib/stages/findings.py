"""What a profile's results say, in words: the findings (findings.md), written with the headline
verdict (headline.md, stages.headline, which the README and the reader's edition show). With
stages.headline the one place where tables become sentences; a pure function of the files in
results/<profile>/, so it can be rerun without training.

    python scripts/findings.py embedded
"""

from __future__ import annotations

import pandas as pd

from .. import paths
from ..io import write_text
from .headline import NOT_RUN, cell, geometry_sentence, headline, primary_endpoint
from .tables import RETRIEVAL_RR_TASK, RETRIEVAL_TASK


def findings(profile: str) -> str:
    """Sentences that state what the tables of a profile show, with their numbers, computed from
    the result files, so they change with them (written to results/<profile>/findings.md). No
    timing enters them: `make reproduce` compares them letter by letter."""
    folder = paths.results_dir(profile)

    def read(name: str) -> pd.DataFrame | None:
        return _optional(folder / f"{name}.csv")

    lines = []
    verdicts = read("tomclip_vs_mclip")
    if verdicts is not None and "family" in verdicts:
        for r in primary_endpoint(verdicts).itertuples():
            lines.append(
                f"- Primary endpoint (named before the run): {r.model} against {r.baseline}, {r.setting} {r.task}, "
                f"{cell(r)} points (delta {r.delta:g}, minimum detectable effect {r.mde:.2f} unadjusted, "
                f"{r.mde_family:.2f} at the family's level): {r.verdict}."
            )
        for wanted in ("better", "worse", "equivalent"):
            part = verdicts[verdicts["verdict"] == wanted]
            lines.append(
                f"- Paired against MCLIP (t intervals over seeds and items, Holm within each declared family), "
                f"{wanted}{' within the smallest effect of interest' if wanted == 'equivalent' else ''}: "
                + ("; ".join(f"{r.model} ({r.setting}, {r.task}, {cell(r)})" for r in part.itertuples()) or "none")
                + "."
            )
        for task, name in ((RETRIEVAL_TASK, "R@1"), (RETRIEVAL_RR_TASK, "reciprocal rank")):
            low = verdicts[(verdicts["setting"] == "low") & (verdicts["task"] == task)]
            if len(low):
                lines.append(
                    f"- Low-resource retrieval {name}, difference to MCLIP in points [95% interval]: "
                    + ", ".join(f"{r.model} {cell(r)}" for r in low.itertuples())
                    + f"; largest minimum detectable effect (80% power) {low['mde'].max():.2f} points."
                )
    shape = read("coherence_vs_mclip")
    if shape is not None and len(shape):
        primary = shape[(shape["model"] == "ToMCLIP") & (shape["setting"] == "low")]
        if len(primary):
            lines.append(
                "- Structural coherence on held-out captions, ToMCLIP minus MCLIP (low-resource): "
                + "; ".join(
                    f"{r.metric} {r.difference:+.3g} [{r.ci_low:+.3g}, {r.ci_high:+.3g}] ({r.verdict})"
                    for r in primary.itertuples()
                )
                + "."
            )
        counts = shape["verdict"].value_counts()
        lines.append(
            f"- Structural coherence, every model against its MCLIP ({len(shape)} model x setting x metric "
            f"comparisons, unadjusted 95% intervals): more coherent {int(counts.get('more coherent', 0))}, less "
            f"coherent {int(counts.get('less coherent', 0))}, no difference resolved "
            f"{int(counts.get('no difference resolved', 0))}."
        )
    fraction, vocabulary = read("teacher_fraction"), read("teacher_fraction_by_vocabulary")
    if fraction is not None and len(fraction):
        for model, how in (("MCLIP", "early-stopped"), ("MCLIP (converged)", "trained to convergence")):
            mclip = fraction[(fraction["model"] == model) & (fraction["setting"] == "full")]
            if len(mclip):
                lines.append(
                    f"- How well {model} (full setting, {how}) learnt its teacher, its English score over the "
                    "teacher's: "
                    + ", ".join(
                        f"{r.task} {r.student:.1f} of {r.teacher:.1f} ({r.fraction:.2f}{_interval(r)})"
                        for r in mclip.itertuples()
                    )
                    + _by_vocabulary(vocabulary, model)
                    + "; issue 29's target is 0.75 (docs/fidelity.md)."
                )
    stopping = read("early_stopping_check")
    if stopping is not None and len(stopping):
        changed = stopping[stopping["differs"]]
        lines.append(
            "- Early stopping and the primary verdicts: trained a fixed number of epochs, "
            + (
                "every verdict stays the same."
                if changed.empty
                else "these change: "
                + "; ".join(
                    f"{r['setting']} {r['task']}: {r['verdict']} early-stopped, {r['verdict (fixed epochs)']} at fixed epochs"
                    for _, r in changed.iterrows()
                )
                + "."
            )
        )
    sweep = read("sweep_scores")
    if sweep is not None and len(sweep):
        mclip = sweep[sweep["model"] == "MCLIP"].iloc[0]
        for _, r in sweep[sweep["chosen"].astype(bool)].iterrows():
            same = "; the paper-balanced weight, so no separate 'ToMCLIP (chosen)' row" if r["paper-balanced"] else ""
            lines.append(
                f"- Weight sweep (low-resource, {r['seeds']} seeds of its own): validation reciprocal rank chose "
                f"ToMCLIP at {r['weight']:.2g} (the terms {r['loss share (%)']:.1f}% of the loss at the best epoch"
                f"{same}); test R@1 {r['retrieval R@1 mean']:.1f} ± {r['retrieval R@1 sd']:.1f} against MCLIP's "
                f"{mclip['retrieval R@1 mean']:.1f} ± {mclip['retrieval R@1 sd']:.1f}."
            )
    balance = read("balance")
    if balance is not None:
        row = balance[(balance["model"] == "ToMCLIP") & (balance["setting"] == "low")]
        if len(row):
            r = row.iloc[0]
            lines.append(
                f"- Balance of ToMCLIP at the paper-balanced weights (low-resource): the topological terms are "
                f"{r['loss share at start']:.1f}% of the loss at the start and {r['loss share at best']:.1f}% at the "
                f"best epoch, {r['gradient share at start']:.1f}% and {r['gradient share at best']:.1f}% of the "
                "gradient norm."
            )
    batch = read("ablation_batch_size")
    if batch is not None and {"model", "batch size"} <= set(batch.columns):
        pivot = batch.pivot(index="batch size", columns="model", values="retrieval R@1 mean")
        if {"MCLIP", "ToMCLIP"} <= set(pivot.columns):
            gaps = (pivot["ToMCLIP"] - pivot["MCLIP"]).round(1)
            lines.append(
                "- Batch size, ToMCLIP (paper-balanced weights) minus MCLIP in test R@1 points: "
                + ", ".join(f"{size}: {gap:+.1f}" for size, gap in gaps.items())
                + "."
            )
    mode = read("ablation_mode")
    if mode is not None and len(mode) == 2:
        exact, reference = mode.iloc[0], mode.iloc[1]
        lines.append(
            f"- L_ta exact versus the reference's sliced estimate, at the weight the sweep chose "
            f"({exact['seeds']} seeds): test R@1 {exact['retrieval R@1 mean']:.1f} ± "
            f"{exact['retrieval R@1 sd']:.1f} against {reference['retrieval R@1 mean']:.1f} ± "
            f"{reference['retrieval R@1 sd']:.1f} (each one's cost per step: ablation_mode.md)."
        )
    runs = read("training_runs")
    # k top layers, k > 0; not 0 (frozen) nor "all" (the whole backbone, the paper profile's)
    top = (
        None
        if runs is None or "trainable_layers" not in runs
        else runs[pd.to_numeric(runs["trainable_layers"], errors="coerce") > 0]
    )
    if top is not None and len(top):
        budget = int((top["best_epoch"] == top["epochs"]).sum())
        lines.append(
            f"- Students whose top backbone layer trains: {budget} of {len(top)} runs had their best validation "
            f"loss at their last epoch ({top['epochs'].max()} at most), so they were still improving when "
            f"their epoch budget ended; compare them with each other, not with the frozen students."
        )
    teacher = read("ablation_teacher_toma")
    if teacher is not None:
        lines.append(
            "- ToMA in the teacher's training, English retrieval R@1 of held-out emoji: "
            + "; ".join(f"{r['setting']} {r['retrieval R@1 mean']:.1f}" for _, r in teacher.iterrows())
            + " (%)."
        )
    spread = read("seed_spread_retrieval")
    if spread is not None and spread["sd"].notna().any():
        steady = spread.sort_values("sd", kind="stable").iloc[0]
        lines.append(
            f"- Spread over seeds (low-resource retrieval R@1): smallest for {steady['model']} "
            f"(sd {steady['sd']:.2f} points); " + ", ".join(f"{r.model} {r.sd:.2f}" for r in spread.itertuples()) + "."
        )
    geometry = read("geometry_predictiveness")
    if geometry is not None and len(geometry) == 2:
        local, global_ = geometry["median Spearman"]
        lines.append(
            f"- Effective dimension and retrieval: median Spearman within spaces, across clusters, {local:.2f}; "
            f"across spaces, globally, {global_:.2f}. "
            + (
                "Local predicts retrieval more strongly than global here, as the seed paper found."
                if abs(local) > abs(global_)
                else "Here the global measure is the stronger predictor, unlike the seed paper's finding."
            )
        )
    spaces = read("spaces_verdicts")
    if spaces is not None and len(spaces):
        lines.append(
            "- CLIP's space against CLOOB's, the seed paper's three findings (rules declared before the run, "
            "docs/spaces.md): "
            + "; ".join(
                f"({r['finding']}) {r['claim']}: {r['verdict']} ({r['statistic']} {r['estimate']:.3f} "
                f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}])"
                for _, r in spaces.iterrows()
            )
            + "."
        )
    return "\n".join(lines) + "\n"


def _interval(row) -> str:
    """A fraction's 95% interval, where the table has one (tables written before it had none)."""
    if pd.isna(getattr(row, "fraction_low", None)):
        return ""
    return f" [{row.fraction_low:.2f}, {row.fraction_high:.2f}]"


def _by_vocabulary(vocabulary: pd.DataFrame | None, model: str) -> str:
    """The zero-shot fraction over the classes whose names the students read in training and over the rest."""
    if vocabulary is None:
        return ""
    rows = vocabulary[(vocabulary["model"] == model) & (vocabulary["setting"] == "full")]
    parts = {bool(r["name in training"]): (int(r["classes"]), r["fraction"]) for _, r in rows.iterrows()}
    if len(parts) < 2:
        return ""
    (seen, seen_fraction), (unseen, unseen_fraction) = parts[True], parts[False]
    return (
        f"; zero-shot on the {seen} classes whose names it read in training {seen_fraction:.2f}, "
        f"on the other {unseen} {unseen_fraction:.2f}"
    )


def write_findings(profile: str) -> str:
    """Write results/<profile>/findings.md and the headline (headline.md and .csv: the README's and
    the reader's edition's verdict, when notebook 04's verdict table exists) from the profile's
    result tables; return the findings."""
    folder = paths.results_dir(profile)
    text = findings(profile)
    write_text(folder / "findings.md", text)
    path = folder / "tomclip_vs_mclip.csv"
    if not path.exists():
        return text
    table, sentence = headline(
        pd.read_csv(path),
        geometry_sentence(_optional(folder / "coherence_vs_mclip.csv"), _optional(folder / "dose_response.csv")),
    )
    method = (
        f"The table: each model's difference to MCLIP in points with its 95% interval and verdict (profile "
        f"{profile}; language average, mean over seeds; paired by seed and test item, t interval over both, Holm "
        f"within each declared family; a model whose top backbone layer trains is compared with the MCLIP that "
        f"trains it too; {NOT_RUN}: trained low-resource only)."
    )
    caption = f"{sentence}\n\n{method}"  # the answer first
    # As report.save_table writes tables, but with the cells as written: "+1.0 ± 1.4", "+5.2" stay text.
    markdown = table.to_markdown(
        index=False, disable_numparse=True, colalign=["left"] + ["right"] * (table.shape[1] - 1)
    )
    write_text(folder / "headline.csv", table.to_csv(index=False))
    write_text(folder / "headline.md", caption + "\n\n" + markdown + "\n")
    return text


def _optional(path) -> pd.DataFrame | None:
    """A result table, or None where its notebook has not written it (or wrote it empty)."""
    if not path.exists() or path.stat().st_size <= 1:
        return None
    return pd.read_csv(path)
