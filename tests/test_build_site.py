"""The site builder's refusal when executed notebooks are missing: it names them and what to run."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_missing_executed_notebooks_are_named_with_the_command_that_makes_them():
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "scripts" / "build-site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(
        SystemExit, match=r"no executed notebook for 01_data, 02_teacher.*make paper PROFILE=absent-profile"
    ):
        module.load_executed("absent-profile", module.notebook_names())
