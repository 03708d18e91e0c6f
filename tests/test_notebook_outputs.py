"""The notebook regression (`make nbval`): the smoke profile's checked outputs against the recorded ones.

`make nbval` first runs every notebook in the smoke profile with papermill, as `make paper` does,
into build/executed/smoke/; this compares the cells marked `# NBVAL_CHECK_OUTPUT` in those executed
copies with tests/nbval/expected/<name>.json, after sanitize.cfg (tests/nbval/regress.py says how).
Not part of the unit tests: it needs the executed copies (`make paper PROFILE=smoke` writes them).
"""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "nbval"))

import regress  # noqa: E402

EXECUTED = ROOT / "build" / "executed" / "smoke"
NAMES = sorted(path.stem for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("name", NAMES)
def test_checked_outputs_are_the_recorded_ones(name):
    executed = EXECUTED / f"{name}.ipynb"
    if not executed.exists():
        pytest.fail(f"{executed.relative_to(ROOT)} is missing: the regression reads the smoke profile's executed "
                    f"notebooks; `make nbval` runs them (or `make paper PROFILE=smoke`)")
    if executed.stat().st_mtime < (ROOT / "notebooks" / f"{name}.py").stat().st_mtime:
        pytest.fail(f"{executed.relative_to(ROOT)} is older than notebooks/{name}.py: `make nbval` runs it again")
    problems = regress.compare(executed)
    assert not problems, ("the checked outputs differ from the recorded ones (- recorded, + now); if the change is "
                          "intended, `make nbval-record` records them anew:\n\n" + "\n\n".join(problems))


def test_every_notebook_has_recorded_outputs():
    recorded = sorted(path.stem for path in regress.EXPECTED_DIR.glob("*.json"))
    assert recorded == NAMES, "tests/nbval/expected/ should hold one file per notebook: `make nbval-record`"
