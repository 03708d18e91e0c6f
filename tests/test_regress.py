"""The notebook regression's comparison (tests/nbval/regress.py) on hand-made notebooks: what it
ignores (timings, redrawn progress lines, images) and what it must catch."""
import json
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent / "nbval"))

import regress  # noqa: E402


def executed_notebook(folder: Path, *stdouts: str) -> Path:
    cells = [nbformat.v4.new_code_cell(f"{regress.MARKER}\nprint(summary)") for _ in stdouts]
    for cell, text in zip(cells, stdouts):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text),
                        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
    path = folder / "09_example.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), *cells]), path)
    return path


def recorded(folder: Path, *stdouts: str) -> Path:
    path = folder / "09_example.json"
    path.write_text(json.dumps([{"outputs": [{"output_type": "stream", "name": "stdout", "text": text}]}
                                for text in stdouts]))
    return path


def test_timings_progress_redraws_and_images_are_not_compared(tmp_path):
    executed = executed_notebook(tmp_path, "training 40%\rtraining 100%\nMCLIP R@1 12.3 in 5.2 s\n")
    assert regress.compare(executed, recorded(tmp_path, "training 100%\nMCLIP R@1 12.3 in 71 s\n")) == []


def test_a_changed_number_fails_with_a_diff_naming_the_cell(tmp_path):
    executed = executed_notebook(tmp_path, "same\n", "MCLIP R@1 12.4\n")
    problems = regress.compare(executed, recorded(tmp_path, "same\n", "MCLIP R@1 12.3\n"))
    assert len(problems) == 1 and "marked cell 2 of 2" in problems[0]
    assert "-MCLIP R@1 12.3" in problems[0] and "+MCLIP R@1 12.4" in problems[0]


def test_a_marked_cell_without_a_recording_is_reported(tmp_path):
    executed = executed_notebook(tmp_path, "a\n", "b\n")
    problems = regress.compare(executed, recorded(tmp_path, "a\n"))
    assert len(problems) == 1 and "2 cell(s) marked" in problems[0] and "make nbval-record" in problems[0]
