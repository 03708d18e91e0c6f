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

# The paper's method, its two halves, then the neighbours; MCLIP (the baseline) is the first row.
ORDER = ["ToMCLIP", "ToMCLIP(dm)", "ToMCLIP(ta)", "ToMA", "Topo-AE"]

COLUMNS = {("full", "zero-shot top-1"): "zero-shot top-1, full", ("low", "zero-shot top-1"): "zero-shot top-1, low",
           ("full", "retrieval text->image R@1"): "retrieval R@1, full",
           ("low", "retrieval text->image R@1"): "retrieval R@1, low"}


def headline(verdicts: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """One row per variant, one column per (setting, task): its difference to MCLIP in points
    (± the sd over seeds where there are several), MCLIP's own score first; and a sentence that
    counts the comparisons each variant wins on every seed."""
    rows = {"MCLIP: its score (%)": {}}
    for (setting, task), column in COLUMNS.items():
        part = verdicts[(verdicts["setting"] == setting) & (verdicts["task"] == task)]
        if part.empty:
            continue
        rows["MCLIP: its score (%)"][column] = f"{part['MCLIP'].iloc[0]:.1f}"
        for r in part.itertuples():
            spread = f" ± {r.sd:.1f}" if r.seeds > 1 and pd.notna(r.sd) else ""
            rows.setdefault(r.model, {})[column] = f"{r.difference:+.1f}{spread}"
    rank = {model: i for i, model in enumerate(["MCLIP: its score (%)"] + ORDER)}
    models = sorted(rows, key=lambda model: rank.get(model, len(rank)))
    table = pd.DataFrame.from_dict(rows, orient="index").loc[models].rename_axis("model").reset_index()
    wins = verdicts[verdicts["task"].isin([task for _, task in COLUMNS])].groupby("model")["beats MCLIP"]
    counts = [f"{model} {(won == 'yes').sum()} of {len(won)}"
              for model, won in sorted(wins, key=lambda item: rank.get(item[0], len(rank)))]
    sentence = ("Comparisons won against MCLIP (language average, on every seed): " + "; ".join(counts) + ".")
    return table, sentence


def write_headline(profile: str) -> str:
    path = paths.results_dir(profile) / "tomclip_vs_mclip.csv"
    if not path.exists():
        return f"no {path.name} for profile {profile}: run notebook 04_evaluate first"
    table, sentence = headline(pd.read_csv(path))
    caption = (f"Difference to MCLIP in points (profile {profile}; average over the 13 languages; low-resource: "
               f"mean ± sd over seeds, paired by seed). {sentence}")
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
