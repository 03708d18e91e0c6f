"""Profiles: params/<profile>.yaml holds the parameters of every notebook for one profile.

The file has a `common` section, given to every notebook, and one section per notebook (named
after it, e.g. `01_data`). The Makefile turns a profile into one papermill parameter file per
notebook:

    python -m tomclip_lib.config embedded 01_data > build/params/embedded/01_data.yaml

Every key is checked against the parameters cell of its notebook (the cell tagged `parameters` in
notebooks/NN_name.py), the whole profile at once: a typo (`batchsize` for `batch_size`) stops the
first parameter file `make paper` builds, before any notebook runs, with the keys that notebook knows.
Papermill would pass an unknown key without a word and the notebook would keep its default.
"""

from __future__ import annotations

import ast
import difflib
import re
import sys

import yaml

from . import paths
from .errors import TomclipError

# The header of jupytext's py:percent cell that papermill fills: `# %% tags=["parameters"]`.
PARAMETERS_HEADER = re.compile(r'^# %%.*\btags=\[[^\]]*"parameters"')
CELL_HEADER = re.compile(r"^# %%")


def profiles() -> list[str]:
    return sorted(p.stem for p in paths.PARAMS_DIR.glob("*.yaml"))


def notebooks() -> list[str]:
    """The notebooks' names (01_data, ...), from notebooks/NN_name.py."""
    return sorted(p.stem for p in paths.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py"))


def load_profile(profile: str) -> dict:
    """The whole parameter file of a profile, checked for shape."""
    path = paths.PARAMS_DIR / f"{profile}.yaml"
    if not path.is_file():
        raise TomclipError(
            f"Unknown profile {profile!r}: there is no {path.relative_to(paths.REPO_ROOT)}. "
            f"Available profiles: {', '.join(profiles())}."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise TomclipError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise TomclipError(f"{path} must map section names (common, 01_data, ...) to parameter maps.")
    if data.get("common", {}).get("profile") != profile:
        raise TomclipError(f"{path}: common.profile must be {profile!r}.")
    return data


def parameter_names(notebook: str) -> list[str]:
    """The names the parameters cell of notebooks/<notebook>.py assigns, in order: the keys a
    profile may set for it."""
    source = paths.NOTEBOOKS_DIR / f"{notebook}.py"
    lines = source.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if PARAMETERS_HEADER.match(line)), None)
    if start is None:
        raise TomclipError(f'{source} has no parameters cell (a cell headed `# %% tags=["parameters"]`).')
    end = next((i for i in range(start + 1, len(lines)) if CELL_HEADER.match(lines[i])), len(lines))
    names = []
    for node in ast.parse("\n".join(lines[start + 1 : end]), filename=str(source)).body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def _unknown_keys(profile: str, section: str, keys, known: dict[str, list[str]]) -> list[str]:
    """One message per notebook for which `section` sets a key its parameters cell lacks."""
    problems = []
    for notebook, names in known.items():
        unknown = [key for key in keys if key not in names]
        if not unknown:
            continue
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, names, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        where = (
            f"section {section}"
            if section != "common"
            else f"section common (given to every notebook, so to {notebook} too)"
        )
        problems.append(
            f"params/{profile}.yaml, {where}: unknown parameter{'s' * (len(unknown) > 1)} {', '.join(hints)}. "
            f"The parameters of {notebook} (its parameters cell in notebooks/{notebook}.py): {', '.join(names)}."
        )
    return problems


def check_profile(profile: str) -> dict:
    """The profile's parameter file, every section and key checked against the notebooks; a
    TomclipError names each unknown section or key with the ones that exist."""
    data = load_profile(profile)
    known = notebooks()
    stray = sorted(set(data) - set(known) - {"common"})
    if stray:
        raise TomclipError(
            f"params/{profile}.yaml has sections {stray} that match no notebook in notebooks/ "
            f"(known: {', '.join(known)})."
        )
    names = {notebook: parameter_names(notebook) for notebook in known}
    problems = _unknown_keys(profile, "common", list(data.get("common", {})), names)
    for section in known:
        problems += _unknown_keys(profile, section, list(data.get(section, {})), {section: names[section]})
    if problems:
        raise TomclipError("\n".join(problems))
    return data


def notebook_parameters(profile: str, notebook: str) -> dict:
    """The parameters papermill passes to one notebook: `common`, then its own section (the whole
    profile checked first: `check_profile`)."""
    data = check_profile(profile)
    if notebook not in notebooks():
        raise TomclipError(f"No notebook {notebook!r} in notebooks/ (known: {', '.join(notebooks())}).")
    return {**data.get("common", {}), **data.get(notebook, {})}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tomclip_lib.config PROFILE NOTEBOOK", file=sys.stderr)
        return 2
    try:
        parameters = notebook_parameters(*argv)
    except TomclipError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    yaml.safe_dump(parameters, sys.stdout, allow_unicode=True, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
