"""Write results/numeric_spread.md: which checked smoke outputs move when the numeric environment does.

    python scripts/numeric-spread.py OUT REFERENCE OTHER...

OUT/<name>/checked.json come from scripts/smoke-in-environment.sh (run by `make spread`). Every line
that a checked cell prints in an environment other than REFERENCE and that differs from REFERENCE's
is listed, with both versions: the measured spread behind what tests/nbval compares.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tomclip_lib.io import write_text  # noqa: E402

DESCRIPTIONS = {
    "pinned": "numerics.env (2 threads, AVX2 kernels, MKL CNR)",
    "one-thread": "numerics.env but 1 thread (so the teacher's convolutions round otherwise)",
    "unpinned": "no pinning: this CPU's own kernels (AVX-512 where it has it), MKL's automatic path",
}


def main(out: str, reference: str, others: list[str]) -> int:
    checked = {
        name: json.loads((Path(out) / name / "checked.json").read_text(encoding="utf-8"))
        for name in [reference, *others]
    }
    lines = [
        f"Checked smoke outputs (the cells nbval compares) that differ from environment `{reference}` "
        f"({DESCRIPTIONS.get(reference, reference)}), written by scripts/numeric-spread.py.",
        "",
    ]
    for name in others:
        lines.append(f"**`{name}`**: {DESCRIPTIONS.get(name, name)}")
        lines.append("")
        moved = 0
        for notebook, cells in checked[reference].items():
            for cell, (ours, theirs) in enumerate(zip(cells, checked[name].get(notebook, [])), start=1):
                for line_ours, line_theirs in zip(ours.splitlines(), theirs.splitlines()):
                    if line_ours != line_theirs:
                        moved += 1
                        lines.append(
                            f"- {notebook}, checked cell {cell}: `{line_ours.strip()}` became `{line_theirs.strip()}`"
                        )
        total = sum(len(text.splitlines()) for cells in checked[reference].values() for text in cells)
        lines += ([] if moved else ["- nothing moved"]) + ["", f"{moved} of {total} checked lines moved.", ""]
    write_text(ROOT / "results" / "numeric_spread.md", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
