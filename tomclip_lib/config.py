"""Profiles: params/<profile>.yaml holds the parameters of every notebook for one profile.

The file has a `common` section, given to every notebook, and one section per notebook (named
after it, e.g. `01_data`). The Makefile turns a profile into one papermill parameter file per
notebook:

    python -m tomclip_lib.config embedded 01_data > build/params/embedded/01_data.yaml
"""
from __future__ import annotations

import sys

import yaml

from . import paths
from .errors import TomclipError


def profiles() -> list[str]:
    return sorted(p.stem for p in paths.PARAMS_DIR.glob("*.yaml"))


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


def notebook_parameters(profile: str, notebook: str) -> dict:
    """The parameters papermill passes to one notebook: `common`, then its own section."""
    data = load_profile(profile)
    known = {p.stem for p in paths.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py")}
    stray = sorted(set(data) - known - {"common"})
    if stray:
        raise TomclipError(
            f"params/{profile}.yaml has sections {stray} that match no notebook in notebooks/ "
            f"(known: {', '.join(sorted(known))})."
        )
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
