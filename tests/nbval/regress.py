"""The notebook regression: the recorded outputs of the marked cells of the smoke profile.

A cell whose source holds `# NBVAL_CHECK_OUTPUT` is checked: its text outputs (stdout, and the
text/plain of results) after sanitize.cfg's regexes must equal tests/nbval/expected/<name>.json.
`make nbval` runs the smoke profile with papermill (build/executed/smoke/) and then
tests/test_notebook_outputs.py compares with `compare` below, the rules of nbval's --nbval-lax
(whose file formats these are: streams merged by name, images not compared).

regress.py record EXECUTED.ipynb ...
    take the marked cells' outputs of executed notebooks as the new expectation
    (tests/nbval/expected/<name>.json). Review the diff before committing it.
regress.py collect OUT.json EXECUTED.ipynb ...
    the marked cells' text of executed notebooks, one JSON file (scripts/numeric-spread.py compares them).
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from pathlib import Path

import nbformat

MARKER = "# NBVAL_CHECK_OUTPUT"
EXPECTED_DIR = Path(__file__).parent / "expected"
SANITIZE = Path(__file__).parent / "sanitize.cfg"
# Never compared (nbval's list): bookkeeping, images, and widget model ids, which are random.
SKIP = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
        "image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json"}


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


def sanitize_patterns(path: Path = SANITIZE) -> list[tuple[str, str]]:
    """sanitize.cfg's (regex, replacement) pairs, in order, read as nbval reads them."""
    return re.findall(r"^regex: (.*)$\n^replace: (.*)$", path.read_text(encoding="utf-8"), flags=re.MULTILINE)


def comparable(outputs: list[dict], patterns: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Outputs as nbval compares them: streams merged by name (carriage returns and backspaces applied),
    each MIME type of each result flattened into its own key, every string sanitized."""
    flat: dict[str, list] = {}
    streams: dict[str, str] = {}
    for output in outputs:
        if output["output_type"] == "stream":
            streams[output["name"]] = streams.get(output["name"], "") + output["text"]
            continue
        for key, value in output.items():
            if key == "data":
                for mime, text in value.items():
                    if mime not in SKIP:
                        flat.setdefault(mime, []).append(text)
            elif key not in SKIP:
                flat.setdefault(key, []).append(value)
    for name, text in streams.items():
        previous = None
        while previous != text:  # a character followed by a backspace (\x08) cancels out
            previous, text = text, re.sub("[^\n]\x08", "", text)
        flat[name] = [re.sub(r"^.*\r(?=[^\n])", "", text, flags=re.MULTILINE)]

    def clean(value):
        if isinstance(value, list):
            value = "".join(value)
        if isinstance(value, str):
            for regex, replacement in patterns:
                value = re.sub(regex, replacement, value)
        return value

    return {key: [clean(value) for value in values] for key, values in flat.items()}


def _as_text(outputs: dict[str, list]) -> str:
    return "".join(f"[{key}]\n" + "".join(v if isinstance(v, str) else json.dumps(v) for v in values) + "\n"
                   for key, values in sorted(outputs.items()))


def compare(executed: str | Path, expected: str | Path | None = None) -> list[str]:
    """What differs between an executed notebook's marked cells and their recorded outputs: one
    message per differing cell, with a diff (an empty list: the same)."""
    executed = Path(executed)
    name = executed.name.split(".")[0]
    expected = Path(expected) if expected else EXPECTED_DIR / f"{name}.json"
    cells = marked_cells(nbformat.read(executed, as_version=4))
    if not expected.exists():
        return [f"{name}: no recorded outputs ({expected}); `make nbval-record` records them"]
    recorded = json.loads(expected.read_text(encoding="utf-8"))
    problems = []
    if len(recorded) != len(cells):
        problems.append(f"{name}: {len(cells)} cell(s) marked NBVAL_CHECK_OUTPUT, {len(recorded)} recorded in {expected}; "
                        f"if the change is intended, `make nbval-record` records them anew (review the diff)")
    patterns = sanitize_patterns()
    for number, (cell, entry) in enumerate(zip(cells, recorded), start=1):
        got, want = comparable(cell.get("outputs", []), patterns), comparable(entry["outputs"], patterns)
        if got == want:
            continue
        diff = difflib.unified_diff(_as_text(want).splitlines(), _as_text(got).splitlines(),
                                    f"recorded ({expected.name})", f"executed ({executed})", lineterm="")
        code = "\n".join("      " + line for line in cell.source.splitlines()[1:4])
        problems.append(f"{name}, marked cell {number} of {len(cells)}:\n{code}\n" + "\n".join(diff))
    return problems


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
    command, *args = sys.argv[1:] or ["help"]
    if command == "record" and args:
        record(args)
    elif command == "collect" and len(args) >= 2:
        collect(args[0], args[1:])
    else:
        sys.exit(__doc__)
