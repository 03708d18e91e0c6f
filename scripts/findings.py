"""Write results/<profile>/findings.md from the result tables (see tomclip_lib.experiment.write_findings)
and results/<profile>/headline.md, the README's headline: each variant's difference to MCLIP.

    python scripts/findings.py embedded
"""
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tomclip_lib import paths  # noqa: E402
from tomclip_lib.experiment import write_findings  # noqa: E402
from tomclip_lib.io import write_text  # noqa: E402

# The paper's method (balanced, then as validation chose it), its two halves, the neighbours, and the
# students whose top backbone layer trains; each baseline's own score is the row above its models.
SCORE = "{}: its score (%)"
ORDER = [SCORE.format("MCLIP"), "ToMCLIP", "ToMCLIP (chosen)", "ToMCLIP(dm)", "ToMCLIP(ta)", "ToMA", "Topo-AE",
         SCORE.format("MCLIP (top layer)"), "ToMCLIP (top layer)"]
NOT_RUN = "—"  # a model trained in one setting only

COLUMNS = {("low", "retrieval text->image R@1"): "retrieval R@1, low", ("full", "retrieval text->image R@1"): "retrieval R@1, full",
           ("low", "zero-shot top-1"): "zero-shot top-1, low", ("full", "zero-shot top-1"): "zero-shot top-1, full"}


def headline(verdicts: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """One row per model, one column per (setting, task): its paired difference to its MCLIP (the
    one whose student trains the same layers) in points with the 95% interval, each MCLIP's own
    score in the row above its models; and the sentences that say what the intervals resolve,
    ToMCLIP's low-resource retrieval first (the paper's claim: most gain with little data)."""
    rows = {}
    for (setting, task), column in COLUMNS.items():
        part = verdicts[(verdicts["setting"] == setting) & (verdicts["task"] == task)]
        for _, r in part.iterrows():
            rows.setdefault(SCORE.format(r["baseline"]), {})[column] = f"{r['baseline score']:.1f}"
            rows.setdefault(r["model"], {})[column] = f"{r['difference']:+.1f} [{r['ci_low']:+.1f}, {r['ci_high']:+.1f}]"
    rank = {model: i for i, model in enumerate(ORDER)}
    models = sorted(rows, key=lambda model: rank.get(model, len(rank)))
    table = (pd.DataFrame.from_dict(rows, orient="index").reindex(columns=list(COLUMNS.values())).loc[models]
             .dropna(axis=1, how="all").fillna(NOT_RUN).rename_axis("model").reset_index())
    claim = verdicts[(verdicts["model"] == "ToMCLIP") & (verdicts["setting"] == "low")
                     & (verdicts["task"] == "retrieval text->image R@1")]
    sentences = []
    if len(claim):
        r = claim.iloc[0]
        sentences.append(f"ToMCLIP (the paper's weights, balanced for our targets) against MCLIP in low-resource "
                         f"retrieval: {r['difference']:+.1f} points, 95% interval [{r['ci_low']:+.1f}, {r['ci_high']:+.1f}] "
                         f"({r['seeds']} seeds, {r['items']} test emoji): {r['verdict']}.")
    counts = []
    for model, part in sorted(verdicts.groupby("model"), key=lambda item: rank.get(item[0], len(rank))):
        tally = part["verdict"].value_counts()
        counts.append(f"{model} better in {tally.get('better than MCLIP', 0)}, worse in {tally.get('worse than MCLIP', 0)}, "
                      f"unresolved in {tally.get('no difference resolved', 0)} of {len(part)}")
    sentences.append("Comparisons with MCLIP whose interval excludes 0: " + "; ".join(counts) + ".")
    return table, " ".join(sentences)


def write_headline(profile: str) -> str:
    path = paths.results_dir(profile) / "tomclip_vs_mclip.csv"
    if not path.exists():
        return f"no {path.name} for profile {profile}: run notebook 04_evaluate first"
    table, sentence = headline(pd.read_csv(path))
    caption = (f"Difference to MCLIP in points with its 95% interval (profile {profile}; language average, mean over "
               f"seeds; paired by seed and test item, bootstrap over both; a model whose top backbone layer trains is "
               f"compared with the MCLIP that trains it too; {NOT_RUN}: trained low-resource only). {sentence}")
    # As report.save_table writes tables, but with the cells as written: "+1.0 ± 1.4", "+5.2" stay text.
    markdown = table.to_markdown(index=False, disable_numparse=True,
                                 colalign=["left"] + ["right"] * (table.shape[1] - 1))
    folder = paths.results_dir(profile)
    write_text(folder / "headline.csv", table.to_csv(index=False))
    write_text(folder / "headline.md", caption + "\n\n" + markdown + "\n")
    return caption + "\n\n" + markdown


if __name__ == "__main__":
    profile = sys.argv[1] if len(sys.argv) > 1 else "embedded"
    print(write_findings(profile))
    print(write_headline(profile))
