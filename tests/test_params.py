"""Profiles and notebook parameters agree: no stray key, no drift between yaml and notebook."""
import ast

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
