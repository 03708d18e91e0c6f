"""environment.yml (the conda route) installs what `make setup` installs: the same extra of tomclip,
under the same lock, with the Python the Makefile and pyproject.toml ask for. Reads files only."""

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _makefile_install_script() -> Path:
    """The script that the Makefile's virtualenv recipe runs to install the packages."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^\$\(VENV_STAMP\):.*?\n((?:\t.*\n)+)", makefile, re.M | re.S)
    assert recipe, "the Makefile's $(VENV_STAMP) rule, which installs the virtualenv, was not found"
    scripts = re.findall(r"(scripts/\S+\.sh) \$\(VENV\)", recipe.group(1))
    assert len(scripts) == 1, f"expected one install script in the $(VENV_STAMP) recipe, found {scripts}"
    return ROOT / scripts[0]


def _script_install() -> tuple[list[str], list[str]]:
    """(the editable targets, the constraint files) of the install script's `uv pip install` line."""
    text = (_makefile_install_script()).read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(line for line in text.splitlines() if "pip install" in line and "-e" in line)
    words = shlex.split(line)
    editable = [words[i + 1] for i, word in enumerate(words) if word == "-e"]
    constraints = [words[i + 1] for i, word in enumerate(words) if word == "-c"]
    return editable, constraints


def _conda_pip() -> tuple[list[str], list[str], list[str]]:
    """(the editable targets, the constraint files, anything else) of environment.yml's pip section."""
    environment = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict) and "pip" in item)
    editable, constraints, other = [], [], []
    for entry in pip:
        option, _, value = entry.partition(" ")
        {"-e": editable, "-c": constraints}.get(option, other).append(value if option in ("-e", "-c") else entry)
    return editable, constraints, other


def test_conda_installs_the_same_extra_under_the_same_lock_as_make_setup():
    script_editable, script_constraints = _script_install()
    conda_editable, conda_constraints, other = _conda_pip()
    assert script_editable == [".[companion]"], "the Makefile's install changed: update environment.yml and this test"
    assert conda_editable == script_editable, f"environment.yml installs {conda_editable}, make setup {script_editable}"
    assert conda_constraints == script_constraints == ["requirements.lock"]
    assert other == [], f"environment.yml's pip section installs more than make setup does: {other}"
    assert (ROOT / "requirements.lock").is_file()


def test_conda_python_is_the_one_the_project_is_built_for():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pythons = [d for d in environment["dependencies"] if isinstance(d, str) and re.match(r"python\b", d)]
    assert pythons == ["python=3.11"]
    assert "python3.11" in (ROOT / "Makefile").read_text(encoding="utf-8")  # PYTHON ?= python3.11 || python3
    assert 'requires-python = ">=3.11"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "pip" in environment["dependencies"]
