"""The engine as a user installs it: tomclip's wheel in a clean virtualenv, beside another torch than
the companion's, imports none of the notebook stack and computes what the companion computes.

The other torch is TOMCLIP_ENGINE_TORCH (default torch==2.13.0, whose CPU build lies on this kind of
machine's disk; elsewhere it is a download). Packages come from the sources pip is set up with."""

import contextlib
import io
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tomclip_lib import paths

OTHER_TORCH = os.environ.get("TOMCLIP_ENGINE_TORCH", "torch==2.13.0")
EXAMPLE = paths.REPO_ROOT / "examples" / "engine_in_a_training_loop.py"
NOTEBOOK_STACK = (
    "transformers",
    "open_clip",
    "datasets",
    "pandas",
    "matplotlib",
    "sklearn",
    "scipy",
    "papermill",
    "jupytext",
    "IPython",
    "gudhi",
    "ot",
    "umap",
    "hdbscan",
    "tqdm",
    "yaml",
)
# Runs the example as a script, then reports what it computed and what it imported.
PROBE = """
import contextlib, io, json, runpy, sys
with contextlib.redirect_stdout(io.StringIO()):
    run = runpy.run_path(sys.argv[1], run_name="__main__")
import torch, tomclip_lib
print(json.dumps({"losses": run["losses"], "loss": run["loss"].item(), "gradient": run["gradient"],
                  "modules": sorted(sys.modules), "torch": torch.__version__, "engine": tomclip_lib.__file__}))
"""


def probe(python: Path, cwd: Path) -> dict:
    # cwd outside the repository: the clean environment must import the installed wheel, not the source tree
    run = subprocess.run([str(python), "-c", PROBE, str(EXAMPLE)], cwd=cwd, check=True, capture_output=True, text=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def clean_environment(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "-w",
            str(root / "dist"),
            str(paths.REPO_ROOT),
        ],
        check=True,
    )
    wheel = next((root / "dist").glob("tomclip-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    sources = subprocess.run(
        [str(paths.REPO_ROOT / "scripts" / "uv-sources.sh"), sys.executable], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    subprocess.run(
        [
            str(Path(sys.executable).parent / "uv"),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            *sources,
            str(wheel),
            OTHER_TORCH,
        ],
        check=True,
    )
    return python, root


def test_the_wheel_brings_the_engine_beside_another_torch_and_nothing_else(clean_environment):
    python, root = clean_environment
    there = probe(python, root)
    assert there["torch"] != torch.__version__, "the clean environment should hold another torch"
    assert Path(there["engine"]).is_relative_to(root / "venv"), there["engine"]
    assert [name for name in NOTEBOOK_STACK if name in there["modules"]] == []


def test_the_engine_computes_there_what_it_computes_here(clean_environment):
    python, root = clean_environment
    with contextlib.redirect_stdout(io.StringIO()):
        here = runpy.run_path(str(EXAMPLE), run_name="__main__")
    there = probe(python, root)
    here = {"loss": here["loss"].item(), "gradient": here["gradient"], "losses": here["losses"]}
    assert there["loss"] == pytest.approx(here["loss"], rel=1e-6)
    assert there["gradient"] == pytest.approx(here["gradient"], rel=1e-5)
    assert there["losses"] == pytest.approx(here["losses"], rel=1e-5)


def test_a_missing_extra_is_named_in_a_clear_error():
    from tomclip_lib.errors import TomclipError, optional_dependency

    with pytest.raises(TomclipError, match=r"pip install 'tomclip\[rips\]'"):
        optional_dependency("tomclip_no_such_package", "rips", "Vietoris-Rips H1")
