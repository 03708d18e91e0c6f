"""The notebook regression's files: nbval compares, this assembles what it compares and records.

A cell whose source holds `# NBVAL_CHECK_OUTPUT` is checked: `pytest --nbval-lax` executes the
notebook and compares that cell's outputs with the ones stored in the notebook, after the regexes
of sanitize.cfg (`--nbval-sanitize-with`). No notebook with outputs is committed: the recorded
outputs live in tests/nbval/expected/<name>.json (the marked cells' stdout and text results), and
`prepare` puts them back into a notebook before nbval runs it (`make nbval`).

regress.py prepare OUT_DIR NOTEBOOK.ipynb PARAMS.yaml [NOTEBOOK.ipynb PARAMS.yaml ...]
    for each notebook (build/notebooks/NN_name.ipynb): inject the parameters as `make paper` does
    (papermill's prepare-only path: the same injected-parameters cell, nothing executed), put the
    recorded outputs into the marked cells and write OUT_DIR/NN_name.ipynb for nbval. Fails if a
    notebook has no recording or marks another number of cells than were recorded.
regress.py record EXECUTED.ipynb ...
    take the marked cells' outputs of executed notebooks as the new expectation
    (tests/nbval/expected/<name>.json). Review the diff before committing it.
regress.py collect OUT.json EXECUTED.ipynb ...
    the marked cells' text of executed notebooks, one JSON file (scripts/numeric-spread.py compares them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

MARKER = "# NBVAL_CHECK_OUTPUT"
EXPECTED_DIR = Path(__file__).parent / "expected"
SANITIZE = Path(__file__).parent / "sanitize.cfg"


def marked_cells(notebook):
    return [c for c in notebook.cells if c.cell_type == "code" and MARKER in c.source]


def text_outputs(cell) -> list[dict]:
    """What is recorded of a marked cell: its stdout and the text of its results (nbval would compare
    stderr too; the marked cells print their summaries, and warnings stay out of the recording)."""
    outputs = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream" and output["name"] == "stdout":
            outputs.append({"output_type": "stream", "name": "stdout", "text": output["text"]})
        elif output["output_type"] == "execute_result" and "text/plain" in output.get("data", {}):
            outputs.append(
                {
                    "output_type": "execute_result",
                    "execution_count": None,
                    "metadata": {},
                    "data": {"text/plain": output["data"]["text/plain"]},
                }
            )
    return outputs


class RecordingMismatch(Exception):
    """The notebook marks other cells than tests/nbval/expected/ recorded."""


def with_expected_outputs(notebook, expected: Path, name: str):
    """`notebook` with the recorded outputs in its marked cells, each numbered as executed (nbval
    compares only cells that look executed: a marked cell left without a recording would pass
    unchecked, hence the error)."""
    cells = marked_cells(notebook)
    if not expected.exists():
        raise RecordingMismatch(f"{name}: no recorded outputs ({expected}); `make nbval-record` records them")
    recorded = json.loads(expected.read_text(encoding="utf-8"))
    if len(recorded) != len(cells):
        raise RecordingMismatch(
            f"{name}: {len(cells)} cell(s) marked NBVAL_CHECK_OUTPUT, {len(recorded)} recorded in {expected}; "
            f"if the change is intended, `make nbval-record` records them anew (review the diff)"
        )
    for number, (cell, entry) in enumerate(zip(cells, recorded), start=1):
        cell.outputs = [nbformat.from_dict(output) for output in entry["outputs"]]
        cell.execution_count = number
    return notebook


def prepare(out_dir: str, pairs: list[tuple[str, str]], expected_dir: Path = EXPECTED_DIR) -> list[Path]:
    import papermill
    from papermill.iorw import read_yaml_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written, problems = [], []
    for source, parameters in pairs:
        name = Path(source).stem
        target = out / f"{name}.ipynb"
        notebook = papermill.execute_notebook(
            source,
            str(target),
            parameters=read_yaml_file(parameters) or {},
            prepare_only=True,
            progress_bar=False,
            log_output=False,
        )
        try:
            nbformat.write(with_expected_outputs(notebook, expected_dir / f"{name}.json", name), target)
        except RecordingMismatch as problem:
            target.unlink(missing_ok=True)
            problems.append(str(problem))
        written.append(target)
    if problems:
        raise SystemExit("error: " + "\n       ".join(problems))
    return written


def record(executed: list[str]) -> None:
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        entries = [{"source": c.source.splitlines()[1:3], "outputs": text_outputs(c)} for c in marked_cells(notebook)]
        target = EXPECTED_DIR / (Path(path).stem + ".json")
        target.write_text(json.dumps(entries, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"recorded {len(entries)} marked cell(s) of {path} -> {target}")


def collect(out: str, executed: list[str]) -> None:
    texts = {}
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        texts[Path(path).name.split(".")[0]] = [
            "".join(o.get("text") or o["data"]["text/plain"] for o in text_outputs(c)) for c in marked_cells(notebook)
        ]
    Path(out).write_text(json.dumps(texts, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    command, *args = sys.argv[1:] or ["help"]
    if command == "prepare" and len(args) >= 3 and len(args) % 2 == 1:
        prepare(args[0], list(zip(args[1::2], args[2::2])))
    elif command == "record" and args:
        record(args)
    elif command == "collect" and len(args) >= 2:
        collect(args[0], args[1:])
    else:
        sys.exit(__doc__)
