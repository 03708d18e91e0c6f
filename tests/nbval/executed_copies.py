"""A pytest plugin for `make nbval`: nbval's execution of the smoke notebooks is the smoke profile's run.

    pytest -p executed_copies --executed-copies build/executed/smoke --nbval-lax ... build/nbval/smoke/*.ipynb

nbval executes each notebook that regress.py prepared (the smoke parameters injected as papermill
injects them, the recorded outputs in the checked cells), compares the checked cells, and keeps what
every cell put out (each item's `test_outputs`). This plugin writes each notebook whose cells all
executed without an error to the --executed-copies folder, with those outputs in place of the
recorded ones, as scripts/run-notebook.py writes papermill's executed copies: streams tidied (one
output per stream, progress bars' redraws collapsed), execution counts, papermill's timing metadata
(the reader's edition shows a notebook's duration and when it ran). A checked cell whose output
differs still executed: its notebook is written, and nbval fails the run.

Before a notebook's first cell, its kernel is told to draw tqdm's text bars, as run-notebook.py's
kernels are (widgets would report to no one).
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("run_notebook", ROOT / "scripts" / "run-notebook.py")
run_notebook = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebook)

TEXT_BARS = "import tqdm.auto, tqdm.std; tqdm.auto.tqdm, tqdm.auto.trange = tqdm.std.tqdm, tqdm.std.trange"


def pytest_addoption(parser):
    parser.addoption(
        "--executed-copies",
        metavar="DIR",
        help="write each notebook nbval executed without an error, with its outputs, into DIR",
    )


def pytest_configure(config):
    if config.getoption("executed_copies"):
        os.environ.setdefault("TQDM_MININTERVAL", "1")  # as run-notebook.py: the kernels inherit it


class Run:
    """One notebook's execution so far."""

    def __init__(self):
        self.start = time.time()
        self.cells = 0
        self.error = False


RUNS: dict = {}


def _utc(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat()


def _is_cell(item) -> bool:
    return bool(item.config.getoption("executed_copies")) and hasattr(item, "cell") and hasattr(item.parent, "nb")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    if not _is_cell(item):
        return (yield)
    run = RUNS.setdefault(item.parent, Run())
    if run.cells == 0:
        kernel = item.parent.kernel
        kernel.await_reply(kernel.execute_cell_input(TEXT_BARS, allow_stdin=False), timeout=120)
    started = time.time()
    try:
        return (yield)
    finally:
        run.cells += 1
        outputs = [nbformat.from_dict(dict(output)) for output in (item.test_outputs or [])]
        failed = item.test_outputs is None or any(output.output_type == "error" for output in outputs)
        run.error |= failed
        for output in outputs:
            if output.output_type == "execute_result":
                output.execution_count = run.cells
        item.cell.outputs = run_notebook.tidy_streams(outputs)
        item.cell.execution_count = run.cells
        ended = time.time()
        item.cell.metadata["papermill"] = {
            "start_time": _utc(started),
            "end_time": _utc(ended),
            "duration": ended - started,
            "exception": failed,
            "status": "failed" if failed else "completed",
        }


def pytest_runtest_teardown(item, nextitem):
    """After a notebook's last cell: its executed copy, unless a cell raised an error or did not run."""
    if not _is_cell(item) or (nextitem is not None and getattr(nextitem, "parent", None) is item.parent):
        return
    run = RUNS.pop(item.parent, None)
    notebook = item.parent.nb
    cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    target = Path(item.config.getoption("executed_copies")) / Path(str(item.parent.path)).name
    target.unlink(missing_ok=True)
    if run is None or run.error or run.cells != cells:
        return
    ended = time.time()
    notebook.metadata.setdefault("papermill", {}).update(
        start_time=_utc(run.start), end_time=_utc(ended), duration=ended - run.start, exception=None
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
