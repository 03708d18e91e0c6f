"""Headless Chromium for the tests that look at pages as a reader would (test_site.py, test_lab.py).

Debian's chromium (scripts/install-system-assets.sh installs it), driven by Playwright for Python;
Playwright's own browser download (`playwright install`) is never used. The flags keep the browser
off the network it would otherwise call home to (this machine's network is closed: a blocked call
would only slow a page down), and every run gets a new, empty profile.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = os.environ.get("TOMCLIP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}


@contextlib.contextmanager
def chromium_page():
    """A page of a fresh headless Chromium; closed, with its profile folder, on exit."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: `make setup` installs Debian's chromium when run as root "
            "(scripts/install-system-assets.sh); elsewhere install it, or set TOMCLIP_CHROMIUM to a Chromium binary"
        )
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="tomclip-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS, viewport=VIEWPORT, timeout=60_000
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def screenshot(page, name: str, full_page: bool = True) -> Path:
    """Keep what the reader sees as build/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000, f"{path} is nearly empty"
    return path
