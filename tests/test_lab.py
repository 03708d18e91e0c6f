"""JupyterLab as `make lab` starts it: the sources open as notebooks, the project's settings apply.

A real Jupyter server on localhost (no browser): its contents API serves notebooks/03_train.py as a
notebook through jupytext, and its settings API shows the overrides that make setup installs
(jupytext's viewer for .py files, no news pop-up). The in-browser check is issue 14's.
"""
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JUPYTER = Path(sys.executable).with_name("jupyter")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path_factory.mktemp("home")  # no user settings of this machine's own
    server = subprocess.Popen(
        [str(JUPYTER), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.token={token}",
         f"--ServerApp.root_dir={ROOT}", "--allow-root"],
        env={**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter")},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def get(path: str):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    try:
        deadline = time.time() + 90
        while True:
            try:
                get("/api/status")
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    pytest.fail(f"jupyter lab did not start: {server.stderr.read()[-2000:]}")
                time.sleep(0.3)
        yield get
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_source_is_served_as_a_notebook_with_its_parameters_cell(lab):
    model = lab("/api/contents/notebooks/03_train.py?type=notebook&content=1")
    assert model["type"] == "notebook"
    cells = model["content"]["cells"]
    assert len(cells) > 10 and {cell["cell_type"] for cell in cells} == {"markdown", "code"}
    tagged = [cell for cell in cells if "parameters" in cell["metadata"].get("tags", [])]
    assert len(tagged) == 1 and "profile = " in tagged[0]["source"]


def test_lab_opens_python_sources_with_jupytext_and_asks_no_news_question(lab):
    def default(plugin: str, name: str):
        """The setting as Lab starts with it: the project's overrides become the schema's defaults."""
        return lab(f"/lab/api/settings/{plugin}")["schema"]["properties"][name]["default"]

    assert default("@jupyterlab/docmanager-extension:plugin", "defaultViewers").get("python") == "Jupytext Notebook"
    assert default("@jupyterlab/apputils-extension:notification", "fetchNews") == "false"
    assert default("@jupyterlab/apputils-extension:notification", "checkForUpdates") is False
