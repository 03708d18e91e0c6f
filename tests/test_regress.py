"""The notebook regression's plumbing on hand-made notebooks, with nbval itself (`pytest --nbval-lax`
and tests/nbval/sanitize.cfg, as `make nbval` calls it): the recorded outputs are put back into the
marked cells with the parameters injected, what sanitize.cfg masks passes, a changed number fails,
and a marked cell without a recording is refused before nbval could pass it unchecked."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "nbval"))

import regress  # noqa: E402

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def source_notebook(folder: Path, name: str, *marked: str) -> Path:
    """A notebook with a parameters cell (score = 0.0) and one marked cell per code in `marked`."""
    parameters = nbformat.v4.new_code_cell("score = 0.0")
    parameters.metadata["tags"] = ["parameters"]
    cells = [parameters, nbformat.v4.new_code_cell("import time")]
    cells += [nbformat.v4.new_code_cell(f"{regress.MARKER}\n{code}") for code in marked]
    path = folder / f"{name}.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), path)
    return path


def recording(folder: Path, name: str, *stdouts: str) -> None:
    folder.mkdir(exist_ok=True)
    entries = [{"outputs": [{"output_type": "stream", "name": "stdout", "text": text}]} for text in stdouts]
    (folder / f"{name}.json").write_text(json.dumps(entries))


def prepared(tmp_path: Path, name: str, marked: list[str], recorded: list[str], score: float) -> Path:
    source = source_notebook(tmp_path, name, *marked)
    parameters = tmp_path / f"{name}.yaml"
    parameters.write_text(f"score: {score}\n")
    recording(tmp_path / "expected", name, *recorded)
    [path] = regress.prepare(str(tmp_path / "nbval"), [(str(source), str(parameters))], tmp_path / "expected")
    return path


def nbval(*notebooks: Path, copies: Path) -> tuple[dict[str, str], str]:
    """Each cell's outcome under nbval (`NN_name::Cell K`: passed or failed), and what pytest printed;
    run as `make nbval` runs it (the executed copies into `copies`), with the current environment's kernel."""
    folder = notebooks[0].parent
    (folder / "pytest.ini").write_text("[pytest]\n")  # not the project's: node ids relative to folder
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-v",
            "-c",
            str(folder / "pytest.ini"),
            "--rootdir",
            str(folder),
            "-p",
            "no:cacheprovider",
            "-p",
            "executed_copies",
            "--executed-copies",
            str(copies),
            "--nbval-lax",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            str(ROOT / "tests" / "nbval" / "sanitize.cfg"),
            *map(str, notebooks),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tests" / "nbval")},
    )
    lines = re.findall(r"^(\w+)(?:\.|::)ipynb::(Cell \d+) (PASSED|FAILED)", done.stdout, flags=re.MULTILINE)
    outcomes = {f"{name}::{cell}": outcome.lower() for name, cell, outcome in lines}
    return outcomes, done.stdout


def test_prepare_injects_the_parameters_and_the_recorded_outputs(tmp_path):
    path = prepared(tmp_path, "09_example", ["print(f'R@1 {score}')"], ["R@1 12.3\n"], score=12.3)
    notebook = nbformat.read(path, as_version=4)
    injected = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "score = 12.3" in injected[0].source, "papermill's injected-parameters cell"
    [marked] = regress.marked_cells(notebook)
    assert marked.execution_count == 1, "nbval compares only cells that look executed"
    assert marked.outputs == [nbformat.v4.new_output("stream", name="stdout", text="R@1 12.3\n")]


@pytest.mark.slow
def test_nbval_passes_what_sanitize_masks_fails_a_changed_number_and_writes_the_executed_copies(tmp_path):
    """One nbval run, three notebooks (kernels without torch: a few seconds)."""
    timings = prepared(
        tmp_path,
        "09_timings",
        ["print(f'R@1 {score} in 5.2 s'); print(f'at {hex(id(time))}')", "print('training 40%\\rtraining 100%')"],
        ["R@1 12.3 in 71 s\nat 0x7f00deadbeef\n", "training 100%\n"],
        score=12.3,
    )
    changed = prepared(
        tmp_path,
        "09_changed",
        ["print('same')", "print(f'MCLIP R@1 {score}')"],
        ["same\n", "MCLIP R@1 12.3\n"],
        score=12.4,
    )
    broken = prepared(tmp_path, "09_broken", ["print(1 / 0)"], ["1\n"], score=0.0)
    copies = tmp_path / "executed"
    outcomes, printed = nbval(timings, changed, broken, copies=copies)
    failed = [cell for cell, outcome in outcomes.items() if outcome != "passed"]
    assert len(outcomes) == 14 and failed == ["09_changed::Cell 4", "09_broken::Cell 3"], printed
    assert "'MCLIP R@1 12.3\\n' == 'MCLIP R@1 12.4\\n'" in printed, "nbval shows the recorded and the new output"

    assert sorted(path.name for path in copies.iterdir()) == ["09_changed.ipynb", "09_timings.ipynb"], (
        "a notebook whose cell raised has no executed copy"
    )
    notebook = nbformat.read(copies / "09_changed.ipynb", as_version=4)
    assert [cell.execution_count for cell in notebook.cells] == [1, 2, 3, 4, 5]
    assert regress.marked_cells(notebook)[1].outputs == [
        nbformat.v4.new_output("stream", name="stdout", text="MCLIP R@1 12.4\n")
    ], "what ran, not the recording"
    assert notebook.metadata.papermill.duration > 0 and notebook.metadata.papermill.end_time
    timed = nbformat.read(copies / "09_timings.ipynb", as_version=4)
    assert regress.marked_cells(timed)[1].outputs[0].text == "training 100%\n", "redraws collapsed"


def test_a_marked_cell_without_a_recording_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="2 cell.s. marked NBVAL_CHECK_OUTPUT, 1 recorded.*make nbval-record"):
        prepared(tmp_path, "09_example", ["print(1)", "print(2)"], ["1\n"], score=0.0)
    assert not (tmp_path / "nbval" / "09_example.ipynb").exists()


def test_a_notebook_without_a_recording_is_refused(tmp_path):
    source = source_notebook(tmp_path, "09_new", "print(1)")
    parameters = tmp_path / "09_new.yaml"
    parameters.write_text("score: 1.0\n")
    with pytest.raises(SystemExit, match="09_new: no recorded outputs"):
        regress.prepare(str(tmp_path / "nbval"), [(str(source), str(parameters))], tmp_path / "expected")


def test_record_then_prepare_round_trips(tmp_path):
    executed = source_notebook(tmp_path, "09_example", "print(score)")
    notebook = nbformat.read(executed, as_version=4)
    regress.marked_cells(notebook)[0].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="0.5\n"),
        nbformat.v4.new_output("stream", name="stderr", text="a warning\n"),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
    ]
    nbformat.write(notebook, executed)
    expected = tmp_path / "expected"
    expected.mkdir()
    original, regress.EXPECTED_DIR = regress.EXPECTED_DIR, expected
    try:
        regress.record([str(executed)])
    finally:
        regress.EXPECTED_DIR = original
    [entry] = json.loads((expected / "09_example.json").read_text())
    assert entry["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "0.5\n"}], "stdout and text results"
