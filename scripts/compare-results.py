"""Compare two results folders file by file: the check that a change which should move no number moved none.

    python scripts/compare-results.py OLD_DIR NEW_DIR [--ignore NAME ...]

Each file is byte-identical, or (a CSV) has every column of the old file with the same values, to
the last digit, plus new columns (a table that gained variables), or (per-item records, .parquet)
holds the same rows and values, or it differs: then it is listed with what differs. Columns that measure time (`--timings`: seconds, ms per step) are wall-clock
measurements, never the same twice: a CSV that differs only in them is listed as such, and so is
its Markdown table. Files in one folder only are listed too. Exit status 1 when anything else
differs. `notebook_timings` is left out by default: it records how long the run took.
"""

import argparse
import sys
from pathlib import Path

import pandas as pd

TIMINGS = ["seconds", "ms_per_step", "ms per step"]


def compare(old: Path, new: Path, timings: list[str] = TIMINGS) -> str | None:
    """None when `new` keeps every value of `old` (but its timings); else what differs, in words."""
    if old.read_bytes() == new.read_bytes():
        return None
    if old.suffix == ".parquet":
        before, after = pd.read_parquet(old), pd.read_parquet(new)
        if list(before.columns) != list(after.columns) or len(before) != len(after):
            return (
                f"columns {list(before.columns)} x {len(before)} rows before, {list(after.columns)} x {len(after)} now"
            )
        changed = [c for c in before.columns if not before[c].astype(str).equals(after[c].astype(str))]
        return f"other values in {changed}" if changed else None
    if old.suffix != ".csv":
        csv = (old.with_suffix(".csv"), new.with_suffix(".csv"))
        if old.suffix == ".md" and all(path.exists() for path in csv) and compare(*csv, timings) is None:
            return None  # the table of a CSV that keeps its values: only the timings' digits moved
        return "differs"
    before, after = (
        pd.read_csv(old, dtype=str, keep_default_na=False),
        pd.read_csv(new, dtype=str, keep_default_na=False),
    )
    missing = [column for column in before.columns if column not in after.columns]
    if missing:
        return f"lost columns {missing}"
    if len(before) != len(after):
        return f"{len(before)} rows before, {len(after)} now"
    changed = [c for c in before.columns if c not in timings and not before[c].equals(after[c])]
    if changed:
        return f"other values in {changed}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--ignore", nargs="*", default=["notebook_timings"], help="file stems to leave out")
    parser.add_argument("--timings", nargs="*", default=TIMINGS, help="columns that measure time")
    args = parser.parse_args()
    names = sorted({path.name for folder in (args.old, args.new) for path in folder.iterdir() if path.is_file()})
    problems, same, kept = [], 0, []
    for name in names:
        if Path(name).stem in args.ignore:
            continue
        old, new = args.old / name, args.new / name
        if not old.exists() or not new.exists():
            problems.append(f"{name}: only in {args.new if new.exists() else args.old}")
            continue
        difference = compare(old, new, args.timings)
        if difference:
            problems.append(f"{name}: {difference}")
        elif old.read_bytes() == new.read_bytes():
            same += 1
        elif old.suffix == ".parquet":
            kept.append(f"{name}: the same records, other bytes (the writer's metadata)")
        elif old.suffix == ".csv":
            added = [c for c in pd.read_csv(new, nrows=0).columns if c not in pd.read_csv(old, nrows=0).columns]
            kept.append(f"{name}: every old value kept but the timings; new columns {added}")
        else:
            kept.append(f"{name}: the table of its CSV, whose values are kept but the timings")
    print(f"{same} files byte-identical")
    print("\n".join(kept + problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
