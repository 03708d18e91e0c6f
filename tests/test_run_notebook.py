"""scripts/run-notebook.py, what `make paper` runs each notebook with: its output filter (pure) and
one real run of two tiny notebooks, one that succeeds and one that fails in its second cell."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "run-notebook.py"
_spec = importlib.util.spec_from_file_location("run_notebook", SCRIPT)
run_notebook = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebook)

TCP_NOTICE = (
    "Kernel is running over TCP without encryption. All communication (including code and outputs) "
    "is sent in plain text and is susceptible to eavesdropping."
)


def bar(percent: int, desc: str = "MCLIP (full, seed 0)") -> str:
    """One redraw of a tqdm bar as tqdm writes it to a file."""
    filled = percent // 10
    return f"\r{desc}: {percent:3d}%|{'█' * filled}{' ' * (10 - filled)}| {percent // 10}/10 [00:{percent:02d}<00:10]"


def test_filter_collapses_redraws_and_throttles():
    lines = run_notebook.StreamFilter(interval=10)
    assert lines.feed("1,532 emoji named in 13 languages\n", now=0) == ["1,532 emoji named in 13 languages"]
    assert lines.feed(bar(0), now=0) == []  # a bar shows after an interval
    assert lines.feed(bar(10) + bar(20), now=1) == []
    assert lines.feed(bar(90), now=11) == [bar(90)[1:]]
    assert lines.feed(bar(100), now=12) == []  # then at most once per interval
    # tqdm's leave=False erases the bar: its last state stays as the run's one final line
    assert lines.feed("\r" + " " * 60 + "\r", now=12.5) == [bar(100)[1:]]
    assert lines.feed("trained 4 runs\n\n", now=13) == ["trained 4 runs"]  # blank lines dropped


def test_filter_over_a_long_bar_prints_few_lines():
    lines = run_notebook.StreamFilter(interval=60)
    printed = []
    for second in range(600):  # ten minutes, a redraw per second
        printed += lines.feed(bar(second // 60 * 10, desc="encoding"), now=second)
    printed += lines.feed("\r\n", now=600)  # leave=True: the last state stays
    assert len(printed) == 9  # at 1, 2, ... 9 minutes
    assert printed[-1] == bar(90, desc="encoding")[1:]


def test_filter_drops_the_tcp_notice_ansi_and_handles_crlf():
    lines = run_notebook.StreamFilter(interval=0)
    assert lines.feed(f"[IPKernelApp] WARNING | {TCP_NOTICE}\n", now=0) == []
    assert lines.feed("\x1b[Aloss \x1b[31m0.12\x1b[0m\r\n", now=0) == ["loss 0.12"]
    assert lines.feed("no newline yet", now=0) == ["no newline yet"]
    assert lines.flush() == []  # already shown
    assert lines.feed("partial", now=0) == ["partial"] and lines.feed(" line\n", now=0) == ["partial line"]


def test_tidy_streams_merges_and_collapses_without_reordering():
    outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="a\n"),
        nbformat.v4.new_output("stream", name="stderr", text=bar(0)),
        nbformat.v4.new_output("stream", name="stderr", text=bar(50) + "\r" + " " * 40 + "\r"),
        nbformat.v4.new_output("stream", name="stdout", text="b\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "table"}),
        nbformat.v4.new_output("stream", name="stderr", text=bar(100) + "\n"),
    ]
    tidy = run_notebook.tidy_streams(outputs)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in tidy] == [
        ("stream", "stdout", "a\nb\n"),
        ("display_data", None, None),
        ("stream", "stderr", bar(100)[1:] + "\n"),
    ]


def test_expected_duration_from_recorded_timings(tmp_path):
    (tmp_path / "results" / "embedded").mkdir(parents=True)
    (tmp_path / "results" / "embedded" / "notebook_timings.csv").write_text(
        "notebook,minutes,peak memory (GB)\n01_data,0.2042,0.98\n03_train,8.008,2.44\nall,8.2122,2.44\n"
    )
    assert "expected about 8.0 min (all notebooks 8.2 min" in run_notebook.expectation("embedded", "03_train", tmp_path)
    assert run_notebook.expectation("smoke", "03_train", tmp_path) == "no recorded timings for 03_train (profile smoke)"


SOURCE = """# %% [markdown]
# A tiny notebook

# %% tags=["parameters"]
runs = 2

# %%
import time
from tqdm.auto import tqdm
print("hello from the notebook")
for run in tqdm(range(runs), desc="run A", leave=False):
    time.sleep(0.2)
print("trained", runs)

# %%
# the bad cell
y = runs / 0
"""


def test_runner_reports_progress_and_keeps_a_failed_notebook(tmp_path):
    """One run (a kernel start, a few seconds): cell lines, prints, the bar; then the failure."""
    source = tmp_path / "01_tiny.py"
    source.write_text(SOURCE)
    cells = [chunk.split("\n", 1)[1].strip("\n") for chunk in SOURCE.split("# %%")[1:]]
    notebook = new_notebook(cells=[new_markdown_cell("# A tiny notebook")] + [new_code_cell(c) for c in cells[1:]])
    notebook.cells[1].metadata["tags"] = ["parameters"]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "01_tiny.ipynb")
    (tmp_path / "params.yaml").write_text("runs: 3\n")
    out = tmp_path / "executed"

    job = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--kernel",
            "python3",
            "--profile",
            "smoke",
            "--interval",
            "60",
            "--parameters-file",
            "params.yaml",
            "--source",
            "01_tiny.py",
            "01_tiny.ipynb",
            "executed/01_tiny.ipynb",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    shown = job.stdout

    assert job.returncode == 1, shown + job.stderr
    assert "== 01_tiny (profile smoke): 4 code cells; no recorded timings for 01_tiny (profile smoke)" in shown
    assert "01_tiny cell 1/4 at" in shown and "the notebook's default parameters" in shown
    assert "01_tiny cell 2/4 at" in shown and "the profile's parameters (injected by papermill)" in shown
    assert "01_tiny cell 3/4 at" in shown and "01_tiny cell 4/4 at" in shown and ": # the bad cell" in shown
    assert "01_tiny | hello from the notebook" in shown and "01_tiny | trained 3" in shown
    assert shown.count("01_tiny | run A:") == 1  # a short bar: its last state, once
    assert "TCP" not in shown + job.stderr  # IPC transport: no notice to hide
    # the failure: named (cell, source line), traceback shown, partial notebook kept
    assert "ZeroDivisionError" in job.stderr
    assert "failed (profile smoke) in code cell 4 of 4 (01_tiny.py, line 16)" in job.stderr
    assert "executed/01_tiny.failed.ipynb" in job.stderr
    assert sorted(p.name for p in out.iterdir()) == ["01_tiny.failed.ipynb"]
    failed = nbformat.read(out / "01_tiny.failed.ipynb", as_version=4)
    code = [c for c in failed.cells if c.cell_type == "code"]
    assert [o.output_type for o in code[-1].outputs] == ["error"]
    # the stored stream: one output, prints kept, the erased bar's redraws gone
    assert [o.text for o in code[-2].outputs] == ["hello from the notebook\ntrained 3\n"]
