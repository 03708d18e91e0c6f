"""The headline verdict (headline.md and .csv, which the README and the reader's edition show): each
model against its own MCLIP, one column per setting and task, the primary family's sentences with
the declared primary endpoint first, and the tally of adjusted verdicts per family. A pure function
of notebook 04's verdict table; stages.findings writes it beside the findings.
"""

from __future__ import annotations

import pandas as pd

from ..statistics import VERDICTS, format_bound

# The paper's method (balanced, then as validation chose it), its two halves, the neighbours, the
# students whose top backbone layer trains, those stopped alike and those trained to convergence;
# each baseline's own score is the row above its models.
SCORE = "{}: its score (%)"
ORDER = [
    SCORE.format("MCLIP"),
    "ToMCLIP",
    "ToMCLIP (chosen)",
    "ToMCLIP(dm)",
    "ToMCLIP(ta)",
    "ToMA",
    "Topo-AE",
    SCORE.format("MCLIP (top layer)"),
    "ToMCLIP (top layer)",
    SCORE.format("MCLIP (fixed epochs)"),
    "ToMCLIP (fixed epochs)",
    SCORE.format("MCLIP (converged)"),
    "ToMCLIP (converged)",
]
NOT_RUN = "—"  # a model trained in one setting only

COLUMNS = {
    ("low", "retrieval text->image reciprocal rank"): "retrieval reciprocal rank, low",
    ("full", "retrieval text->image reciprocal rank"): "retrieval reciprocal rank, full",
    ("low", "retrieval text->image R@1"): "retrieval R@1, low",
    ("full", "retrieval text->image R@1"): "retrieval R@1, full",
    ("low", "zero-shot top-1"): "zero-shot top-1, low",
    ("full", "zero-shot top-1"): "zero-shot top-1, full",
}


def primary_endpoint(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The row(s) of the declared primary endpoint (none in a table written before it was declared)."""
    if "primary endpoint" not in verdicts:
        return verdicts.iloc[:0]
    return verdicts[verdicts["primary endpoint"].astype(bool)]


def cell(r) -> str:
    """A difference and its interval, each bound with the digits that show its side of zero."""
    return f"{r.difference:+.2f} [{format_bound(r.ci_low)}, {format_bound(r.ci_high)}]"


def headline(verdicts: pd.DataFrame, shape_sentence: str = "") -> tuple[pd.DataFrame, str]:
    """One row per model, one column per (setting, task): its paired difference to its MCLIP (the
    one whose student trains the same layers and stops alike) in points with the 95% interval and
    its family-adjusted verdict, each MCLIP's own score in the row above its models; and the
    sentences of the primary family's verdicts (the primary endpoint first, then `shape_sentence`:
    whether the terms changed the geometry, `geometry_sentence`), then the tally of adjusted verdicts per family."""
    rows = {}
    for (setting, task), column in COLUMNS.items():
        part = verdicts[(verdicts["setting"] == setting) & (verdicts["task"] == task)]
        for _, r in part.iterrows():
            rows.setdefault(SCORE.format(r["baseline"]), {})[column] = f"{r['baseline score']:.1f}"
            rows.setdefault(r["model"], {})[column] = f"{cell(r)} {r['verdict']}"
    rank = {model: i for i, model in enumerate(ORDER)}
    models = sorted(rows, key=lambda model: rank.get(model, len(rank)))
    table = (
        pd.DataFrame.from_dict(rows, orient="index")
        .reindex(columns=list(COLUMNS.values()))
        .loc[models]
        .dropna(axis=1, how="all")
        .fillna(NOT_RUN)
        .rename_axis("model")
        .reset_index()
    )
    sentences = [
        f"{r.model} against {r.baseline}, {r.setting} {r.task}: {cell(r)} points "
        f"({r.seeds} seeds, {r.items} test items; Holm p {r.p_holm:.2g}; delta {r.delta:g}, MDE {r.mde:.2f}): "
        f"{r.verdict}."
        for r in _primary_first(verdicts[verdicts["family"] == "primary"]).itertuples()
    ]
    if shape_sentence:  # right after the primary endpoint's sentence: the answer, then whether the shape moved
        sentences.insert(len(primary_endpoint(verdicts[verdicts["family"] == "primary"])), shape_sentence)
    tallies = [
        f"{family} ({len(part)} comparisons): "
        + ", ".join(f"{name} {int((part['verdict'] == name).sum())}" for name in VERDICTS)
        for family, part in verdicts.groupby("family", sort=False)
    ]
    sentences.append("Verdicts after Holm's correction within each declared family: " + "; ".join(tallies) + ".")
    return table, " ".join(sentences)


def _primary_first(rows: pd.DataFrame) -> pd.DataFrame:
    if "primary endpoint" not in rows:
        return rows
    return rows.sort_values("primary endpoint", ascending=False, kind="stable")


#: How the geometry sentence names the coherence metrics it quotes (analysis.coherence).
SHAPE_NAMES = {"l_ta": "L_ta", "l_dm": "L_dm", "fidelity": "fidelity"}


def geometry_sentence(shape: pd.DataFrame | None, response: pd.DataFrame | None) -> str:
    """Did the terms change the geometry at all? ToMCLIP's held-out coherence against MCLIP's
    (low-resource, stages.coherence: each difference with its interval, its size relative to MCLIP's
    level and its direction), then, per model of the dose-response (stages.sweep), the weight where
    held-out L_ta moved most relative to MCLIP's level, its share of the loss and what test
    reciprocal rank did there. Empty where neither table exists."""
    sentences = []
    if shape is not None and len(shape):
        rows = shape[(shape["model"] == "ToMCLIP") & (shape["setting"] == "low") & shape["metric"].isin(SHAPE_NAMES)]
        if len(rows):
            sentences.append(
                "Did the terms change the geometry? On held-out captions, ToMCLIP against MCLIP (low-resource): "
                + "; ".join(
                    f"{SHAPE_NAMES[r['metric']]} {r['difference']:+.2g} [{r['ci_low']:+.2g}, {r['ci_high']:+.2g}] "
                    f"({100 * r['difference'] / r['baseline value']:+.2f}% of MCLIP's {r['baseline value']:.3g}; "
                    f"{r['verdict']})"
                    for _, r in rows.iterrows()
                )
                + "."
            )
    if response is not None and len(response):
        ta = response[response["endpoint"] == "l_ta"].assign(
            relative=lambda t: 100 * t["difference"] / t["MCLIP value"]
        )
        rr = response[(response["endpoint"] == "reciprocal rank") & (response["split"] == "test")]
        for model, part in ta.groupby("model", sort=False):
            top = part.loc[part["relative"].abs().idxmax()]
            score = rr[(rr["model"] == model) & (rr["weight"] == top["weight"])].iloc[0]
            sentences.append(
                f"Over the dose-response, {model}'s held-out L_ta moves most at weight {top['weight']:.2g} (the "
                f"terms {100 * top['loss share']:.0f}% of the loss): {top['relative']:+.1f}% of MCLIP's, where test "
                f"reciprocal rank moves {100 * score['difference']:+.2f} [{100 * score['ci_low']:+.2f}, "
                f"{100 * score['ci_high']:+.2f}] points."
            )
    return " ".join(sentences)
