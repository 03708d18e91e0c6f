"""How far a change of arithmetic alone moved the paired comparisons with MCLIP.

    .venv/bin/python scripts/engine-change.py [--before 9c9aa65] [--after e417a23] [--profile embedded]

0.6.0 computes the topological terms in a fused kernel (CHANGELOG): the same definitions, other
rounding (float64 sums, lengths from the coordinates), so every topological run trains along a
slightly different path. Comparing the committed results/<profile>/tomclip_vs_mclip.csv at the
commit `--before` with the one at `--after` (the last results in the bootstrap format this
script reads; 0.8.0's verdict tables have other columns) shows how much of a difference between models is that
spread rather than the method. MCLIP runs kept their bits, so every shift is the topological
model's. Writes results/<profile>/engine_change.{csv,md}.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tomclip_lib import report  # noqa: E402

KEYS = ["setting", "task", "model"]


def comparisons_at(ref: str, profile: str) -> pd.DataFrame:
    path = f"results/{profile}/tomclip_vs_mclip.csv"
    text = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return pd.read_csv(io.StringIO(text))


def interval(row: pd.Series, suffix: str) -> str:
    return f"{row['difference' + suffix]:+.2f} [{row['ci_low' + suffix]:+.2f}, {row['ci_high' + suffix]:+.2f}]"


def change_table(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    both = before.merge(after, on=KEYS, suffixes=("_before", "_after"), validate="one_to_one")
    return pd.DataFrame(
        {
            **{key: both[key] for key in KEYS},
            "before": both.apply(interval, axis=1, suffix="_before"),
            "after": both.apply(interval, axis=1, suffix="_after"),
            "shift": both["difference_after"] - both["difference_before"],
            "half_width_after": both["half_width_after"],
            "verdict_before": both["verdict_before"],
            "verdict_after": both["verdict_after"],
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="9c9aa65", help="the commit whose results the engine change replaced")
    parser.add_argument("--after", default="e417a23", help="the commit whose results came after it (0.7.0)")
    parser.add_argument("--profile", default="embedded")
    args = parser.parse_args()
    after = comparisons_at(args.after, args.profile)
    table = change_table(comparisons_at(args.before, args.profile), after)
    flipped = table[table["verdict_before"] != table["verdict_after"]]
    caption = (
        f"Paired differences to MCLIP in points [95% interval] before ({args.before}, 0.5.0) and after 0.6.0's "
        f"fused kernel, which changed the rounding of the topological terms and nothing of their definitions "
        f"(profile {args.profile}; scripts/engine-change.py). Largest shift {table['shift'].abs().max():.2f} "
        f"points, median {table['shift'].abs().median():.2f}; {len(flipped)} of {len(table)} verdicts changed."
    )
    report.save_table(table, "engine_change", args.profile, floatfmt=".2f", caption=caption)
    print(caption)
    return 0


if __name__ == "__main__":
    sys.exit(main())
