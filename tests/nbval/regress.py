"""Glue between the notebooks and nbval: recorded outputs of the marked cells are the regression.

regress.py prepare NOTEBOOK.ipynb PARAMS.yaml EXPECTED.json OUT.ipynb
    inject the smoke parameters (papermill, without executing) and put the recorded outputs
    into the cells marked NBVAL_CHECK_OUTPUT; nbval then re-executes OUT and compares.
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
import papermill
import yaml

MARKER = "# NBVAL_CHECK_OUTPUT"
EXPECTED_DIR = Path(__file__).parent / "expected"
KEEP = ("stream", "execute_result")  # text outputs; images and HTML are not compared


def marked_cells(notebook):
    return [c for c in notebook.cells if c.cell_type == "code" and MARKER in c.source]


def text_outputs(cell) -> list[dict]:
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


def prepare(source: str, params: str, expected: str, out: str) -> None:
    parameters = yaml.safe_load(Path(params).read_text()) or {}
    papermill.execute_notebook(
        source,
        out,
        parameters=parameters,
        prepare_only=True,
        kernel_name="tomclip",
        progress_bar=False,
        log_output=False,
    )
    notebook = nbformat.read(out, as_version=4)
    cells = marked_cells(notebook)
    recorded = json.loads(Path(expected).read_text()) if Path(expected).exists() else []
    if len(recorded) != len(cells):
        print(
            f"note: {expected} records {len(recorded)} marked cells, {source} has {len(cells)}; "
            f"run `make nbval-record` if the change is intended",
            file=sys.stderr,
        )
    for number, (cell, entry) in enumerate(zip(cells, recorded), start=1):
        cell.outputs = [nbformat.from_dict(o) for o in entry["outputs"]]
        cell.execution_count = number  # nbval compares only cells that look executed
    nbformat.write(notebook, out)


def record(executed: list[str]) -> None:
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        entries = [
            {"source": c.source.splitlines()[1:3], "outputs": text_outputs(c)} for c in marked_cells(notebook)
        ]
        target = EXPECTED_DIR / (Path(path).stem + ".json")
        target.write_text(json.dumps(entries, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"recorded {len(entries)} marked cell(s) of {path} -> {target}")


def collect(out: str, executed: list[str]) -> None:
    texts = {}
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        texts[Path(path).name.split(".")[0]] = [
            "".join(o.get("text") or o["data"]["text/plain"] for o in text_outputs(c)) for c in marked_cells(notebook)]
    Path(out).write_text(json.dumps(texts, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "prepare" and len(args) == 4:
        prepare(*args)
    elif command == "record" and args:
        record(args)
    elif command == "collect" and len(args) >= 2:
        collect(args[0], args[1:])
    else:
        sys.exit(__doc__)
