"""The headline verdict (headline.md and .csv, which the README and the reader's edition show): each
model against its own MCLIP, one column per setting and task, the primary family's sentences with
the declared primary endpoint first, and the tally of adjusted verdicts per family. A pure function
of notebook 04's verdict table; stages.findings writes it beside the findings.
"""

from __future__ import annotations

import pandas as pd

from ..statistics import VERDICTS, format_bound

# The paper's method (balanced, then as validation chose it), its two halves, the neighbours, and the
# students whose top backbone layer trains; each baseline's own score is the row above its models.
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


def headline(verdicts: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """One row per model, one column per (setting, task): its paired difference to its MCLIP (the
    one whose student trains the same layers and stops alike) in points with the 95% interval and
    its family-adjusted verdict, each MCLIP's own score in the row above its models; and the
    sentences of the primary family's verdicts (the primary endpoint first), then the tally of
    adjusted verdicts per family."""
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
