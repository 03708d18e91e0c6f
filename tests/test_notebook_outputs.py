"""The notebook regression's recordings agree with the notebooks (a unit test: nothing executes).

`make nbval` compares the cells marked `# NBVAL_CHECK_OUTPUT` of the smoke profile under
`pytest --nbval-lax`, against tests/nbval/expected/<name>.json (tests/nbval/regress.py puts them
into the notebooks). Here, before any notebook runs: one recording per notebook, as many recorded
cells as marked ones (the recording's `source`, a cell's first lines, only says which cell it was).
"""

import json
import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "nbval"))

import regress  # noqa: E402

SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
NAMES = [path.stem for path in SOURCES]


def test_every_notebook_has_recorded_outputs():
    recorded = sorted(path.stem for path in regress.EXPECTED_DIR.glob("*.json"))
    assert recorded == NAMES, "tests/nbval/expected/ should hold one file per notebook: `make nbval-record`"


@pytest.mark.parametrize("source", SOURCES, ids=NAMES)
def test_the_recordings_are_of_the_marked_cells(source):
    cells = regress.marked_cells(jupytext.read(source))
    recorded = json.loads((regress.EXPECTED_DIR / f"{source.stem}.json").read_text(encoding="utf-8"))
    assert cells, f"{source.name} marks no cell with {regress.MARKER}: the regression would check nothing of it"
    assert len(cells) == len(recorded), (
        f"{source.name} marks {len(cells)} cell(s), tests/nbval/expected/{source.stem}.json records {len(recorded)} "
        f"({[entry['source'] for entry in recorded]}): if the change is intended, `make nbval-record` records them "
        "anew (review the diff)"
    )
    assert all(entry["outputs"] for entry in recorded), "a recorded cell without output checks nothing"
