"""Write results/<profile>/notebook_timings.md (and .csv): how long each executed notebook took
(papermill's per-cell durations, summed), so the timing table of docs/running.md and the expected
durations that scripts/run-notebook.py announces come from a run.

    python scripts/notebook-timings.py embedded
"""

import re
import sys
from pathlib import Path

import nbformat
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tomclip_lib import report  # noqa: E402


def main(profile: str) -> int:
    rows = []
    for path in sorted((ROOT / "build" / "executed" / profile).glob("[0-9][0-9]_*.ipynb")):
        if path.name.endswith((".partial.ipynb", ".failed.ipynb")):  # a run that did not finish
            continue
        notebook = nbformat.read(path, as_version=4)
        seconds = sum(cell.metadata.get("papermill", {}).get("duration") or 0 for cell in notebook.cells)
        printed = "".join(
            o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
        )
        memory = re.search(re.escape(report.PEAK_MEMORY_LABEL) + r": ([0-9.]+) GB", printed)
        rows.append(
            {
                "notebook": path.stem,
                "minutes": seconds / 60,
                "peak memory (GB)": float(memory.group(1)) if memory else float("nan"),
            }
        )
    if not rows:
        print(f"no executed notebooks for profile {profile}: run `make paper PROFILE={profile}` first", file=sys.stderr)
        return 1
    table = pd.DataFrame(rows)
    table.loc[len(table)] = {
        "notebook": "all",
        "minutes": table["minutes"].sum(),
        "peak memory (GB)": table["peak memory (GB)"].max(),
    }
    report.save_table(
        table,
        "notebook_timings",
        profile,
        floatfmt=".1f",
        caption=f"Time and peak memory of each notebook (profile {profile}, cells only, from its last run).",
    )
    print(report.markdown_table(table, ".1f"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "embedded"))
