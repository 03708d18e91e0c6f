"""Compare two results folders file by file: the check that a change which should move no number moved none.

    python scripts/compare-results.py OLD_DIR NEW_DIR [--ignore NAME ...]

Each file is byte-identical, or (a CSV) has every column of the old file with the same values, to
the last digit, plus new columns (a table that gained variables), or it differs: then it is listed
with what differs. Files in one folder only are listed too. Exit status 1 when any file differs.
`notebook_timings` is left out by default: it records how long this run took.
"""

import argparse
import sys
from pathlib import Path

import pandas as pd


def compare(old: Path, new: Path) -> str | None:
    """None when `new` keeps every value of `old`; else what differs, in words."""
    if old.read_bytes() == new.read_bytes():
        return None
    if old.suffix != ".csv":
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
    changed = [column for column in before.columns if not before[column].equals(after[column])]
    if changed:
        return f"other values in {changed}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--ignore", nargs="*", default=["notebook_timings"], help="file stems to leave out")
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
        difference = compare(old, new)
        if difference:
            problems.append(f"{name}: {difference}")
        elif old.read_bytes() == new.read_bytes():
            same += 1
        else:
            added = [c for c in pd.read_csv(new, nrows=0).columns if c not in pd.read_csv(old, nrows=0).columns]
            kept.append(f"{name}: every old value kept; new columns {added}")
    print(f"{same} files byte-identical")
    print("\n".join(kept + problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
