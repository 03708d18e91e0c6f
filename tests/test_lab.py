"""JupyterLab as `make lab` starts it: the sources open as notebooks, the project's settings apply.

A real Jupyter server on localhost, with its token: its contents API serves notebooks/03_train.py as
a notebook through jupytext, its settings API shows the overrides that make setup installs
(jupytext's viewer for .py files, no news pop-up), and headless Chromium opens the source by its
plain URL and finds notebook cells, the kernel `tomclip` and no dialog in the rendered page
(screenshot: build/screenshots/lab-03_train.png). The server is stopped at the end.
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
from browser import chromium_page, screenshot

ROOT = Path(__file__).resolve().parents[1]
JUPYTER = Path(sys.executable).with_name("jupyter")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Lab:
    """A running server: `lab(path)` asks its REST API; `lab.url` and `lab.token` are for a browser."""

    def __init__(self, port: int, token: str):
        self.url, self.token = f"http://127.0.0.1:{port}", token

    def __call__(self, path: str):
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path_factory.mktemp("home")  # no user settings of this machine's own
    log = (home / "server.log").open("w+")  # a file, not a pipe: a chatty server never blocks on it
    server = subprocess.Popen(
        [
            str(JUPYTER),
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--ServerApp.token={token}",
            f"--ServerApp.root_dir={ROOT}",
            "--allow-root",
            f"--FileCheckpoints.checkpoint_dir={home / 'checkpoints'}",
        ],  # Lab checkpoints what it opens: not in the tree
        env={**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter")},
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    running = Lab(port, token)
    try:
        deadline = time.time() + 90
        while True:
            try:
                running("/api/status")
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    log.seek(0)
                    pytest.fail(f"jupyter lab did not start: {log.read()[-2000:]}")
                time.sleep(0.3)
        yield running
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_a_source_is_served_as_a_notebook_with_its_parameters_cell(lab):
    model = lab("/api/contents/notebooks/03_train.py?type=notebook&content=1")
    assert model["type"] == "notebook"
    cells = model["content"]["cells"]
    assert len(cells) > 10 and {cell["cell_type"] for cell in cells} == {"markdown", "code"}
    tagged = [cell for cell in cells if "parameters" in cell["metadata"].get("tags", [])]
    assert len(tagged) == 1 and "profile = " in tagged[0]["source"]
    assert model["content"]["metadata"]["kernelspec"]["name"] == "tomclip"


def test_lab_opens_python_sources_with_jupytext_and_asks_no_news_question(lab):
    def default(plugin: str, name: str):
        """The setting as Lab starts with it: the project's overrides become the schema's defaults."""
        return lab(f"/lab/api/settings/{plugin}")["schema"]["properties"][name]["default"]

    assert default("@jupyterlab/docmanager-extension:plugin", "defaultViewers").get("python") == "Jupytext Notebook"
    assert default("@jupyterlab/apputils-extension:notification", "fetchNews") == "false"
    assert default("@jupyterlab/apputils-extension:notification", "checkForUpdates") is False


def test_a_double_clicked_source_shows_notebook_cells_with_the_tomclip_kernel(lab):
    """What a reader sees: the source opened by its plain URL, as a double-click in the file browser opens it."""
    with chromium_page() as page:
        page.goto(f"{lab.url}/lab/tree/notebooks/03_train.py?token={lab.token}", timeout=60_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell .jp-InputArea", timeout=60_000)
        kernel = page.locator(".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName")
        # Lab attaches a long notebook's cells a few at a time (its "defer" windowing), and shows the
        # kernel's name once it has chosen one: wait for both; the assertions below say what was shown.
        for ready in (
            "document.querySelectorAll('.jp-Notebook .jp-Cell').length > 10",
            "(document.querySelector('.jp-NotebookPanel-toolbar .jp-Toolbar-kernelName') || {}).textContent"
            " === 'Python (tomclip)'",
        ):
            try:
                page.wait_for_function(f"() => {ready}", timeout=30_000)
            except Exception:
                pass
        shown = {
            "kernel": kernel.inner_text().strip() if kernel.count() else "(no kernel name in the toolbar)",
            "cells": page.locator(".jp-Notebook .jp-Cell").count(),
            "dialogs": page.locator(".jp-Dialog").all_inner_texts(),
            "notifications": page.locator(".Toastify__toast").all_inner_texts(),
            "text editors": page.locator(".jp-FileEditor").count(),
            "title": page.locator(".jp-Notebook .jp-MarkdownCell h1").first.inner_text(),
        }
        screenshot(page, "lab-03_train", full_page=False)
    assert not shown["dialogs"], f"a dialog covers the notebook: {shown['dialogs']}"
    assert not shown["notifications"], f"a notification pops up: {shown['notifications']}"
    assert shown["cells"] > 10 and shown["text editors"] == 0, f"the source did not open as a notebook: {shown}"
    assert shown["title"].startswith("03 "), shown
    assert shown["kernel"] == "Python (tomclip)", f"the notebook's kernel is not tomclip: {shown}"
