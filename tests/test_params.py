"""Profiles and notebook parameters agree: no stray key, no drift between yaml and notebook; a
reader's typo in a profile, or an unknown profile, stops the run with the names that exist."""

import ast
import os
import shutil
import subprocess

import jupytext
import papermill
import pytest
import yaml

from tomclip_lib import config, paths
from tomclip_lib.errors import TomclipError

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py"))


def notebook_defaults(source, tmp_path):
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    target = tmp_path / (source.stem + ".ipynb")
    jupytext.write(notebook, target)
    return {name: ast.literal_eval(p["default"]) for name, p in papermill.inspect_notebook(str(target)).items()}


def test_the_profiles_are_there():
    assert {"embedded", "smoke", "paper"} <= set(config.profiles())


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_one_parameters_cell(source):
    cells = jupytext.read(source).cells
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.parametrize("profile", ["embedded", "smoke", "paper"])
def test_profile_keys_are_parameters_of_the_notebook(source, profile, tmp_path):
    defaults = notebook_defaults(source, tmp_path)
    given = config.notebook_parameters(profile, source.stem)
    assert set(given) <= set(defaults), f"params/{profile}.yaml passes unknown parameters"
    assert config.parameter_names(source.stem) == list(defaults), "config reads the parameters cell as papermill does"
    if profile == "embedded":
        drift = {k: (v, defaults[k]) for k, v in given.items() if defaults[k] != v}
        assert drift == {}, "the notebook's defaults must equal params/embedded.yaml"


def test_unknown_profile_is_named_with_the_choices():
    with pytest.raises(TomclipError, match="Unknown profile 'fast'.*embedded"):
        config.notebook_parameters("fast", "01_data")


def test_a_section_for_no_notebook_is_refused(tmp_path, monkeypatch):
    (tmp_path / "odd.yaml").write_text(yaml.safe_dump({"common": {"profile": "odd"}, "99_nothing": {"x": 1}}))
    monkeypatch.setattr(paths, "PARAMS_DIR", tmp_path)
    with pytest.raises(TomclipError, match="match no notebook"):
        config.notebook_parameters("odd", "01_data")


def test_invalid_yaml_is_reported_with_its_file(tmp_path, monkeypatch):
    (tmp_path / "broken.yaml").write_text("common: [unclosed")
    monkeypatch.setattr(paths, "PARAMS_DIR", tmp_path)
    with pytest.raises(TomclipError, match="broken.yaml is not valid YAML"):
        config.load_profile("broken")


def test_cli_prints_the_merged_parameters(capsys):
    assert config.main(["smoke", "01_data"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["profile"] == "smoke" and printed["max_items"] == 150
    assert config.main(["nope", "01_data"]) == 1


def profile_with(tmp_path, monkeypatch, edit) -> str:
    """A copy of params/embedded.yaml, named `typo`, changed by `edit(data)`, as the profile read."""
    data = yaml.safe_load((paths.PARAMS_DIR / "embedded.yaml").read_text(encoding="utf-8"))
    data["common"]["profile"] = "typo"
    edit(data)
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setattr(paths, "PARAMS_DIR", tmp_path)
    return "typo"


def test_a_misspelt_key_stops_with_the_notebooks_parameters(tmp_path, monkeypatch):
    profile = profile_with(tmp_path, monkeypatch, lambda data: data["03_train"].update(batchsize=512))
    with pytest.raises(TomclipError) as error:
        config.notebook_parameters(profile, "03_train")
    message = str(error.value)
    assert "params/typo.yaml, section 03_train: unknown parameter 'batchsize' (did you mean 'batch_size'?)" in message
    assert "The parameters of 03_train" in message and "batch_size, lr, max_epochs" in message


def test_the_whole_profile_is_checked_before_the_first_notebook(tmp_path, monkeypatch):
    """make paper builds 01_data's parameter file first: a typo in a later section stops it there."""
    profile = profile_with(tmp_path, monkeypatch, lambda data: data["08_embedding_geometry"].update(min_clustersize=8))
    with pytest.raises(TomclipError, match="section 08_embedding_geometry: unknown parameter 'min_clustersize'"):
        config.notebook_parameters(profile, "01_data")


def test_a_common_key_must_be_a_parameter_of_every_notebook(tmp_path, monkeypatch):
    profile = profile_with(tmp_path, monkeypatch, lambda data: data["common"].update(languages=["en"]))
    with pytest.raises(
        TomclipError,
        match=r"section common \(given to every notebook, so to 07_topology too\): "
        r"unknown parameter 'languages'",
    ):
        config.notebook_parameters(profile, "01_data")


def test_the_cli_prints_the_error_and_fails(tmp_path, monkeypatch, capsys):
    profile = profile_with(tmp_path, monkeypatch, lambda data: data["02_teacher"].update(epoch=3))
    assert config.main([profile, "02_teacher"]) == 1
    assert "unknown parameter 'epoch' (did you mean 'epochs'?)" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_names_the_profiles_for_an_unknown_one():
    """make reads the Makefile only (-n: nothing runs) and stops before any target. Run as a new make,
    not a sub-make of `make test` (whose MAKEFLAGS and MAKELEVEL would add its directory lines)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    done = subprocess.run(
        ["make", "-n", "paper", "PROFILE=bogus"], cwd=paths.REPO_ROOT, capture_output=True, text=True, env=env
    )
    assert done.returncode != 0 and done.stdout == ""
    assert "Unknown profile PROFILE=bogus" in done.stderr and "embedded paper smoke" in done.stderr
