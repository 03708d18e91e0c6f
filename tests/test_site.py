"""The reader's edition in a real browser (`make site-test`, after `make nbval` built the smoke site).

Headless Chromium opens build/site/smoke/ from the file system, as a reader would after `make paper`:
the landing page and one notebook page. On each, every image has loaded with a size, the Korean,
Japanese and Chinese text is there, every internal link leads to a file of the site (and to its
anchor), and nothing was fetched from the network. Screenshots: build/screenshots/site-*.png.
"""

import ast
import html
import importlib.util
import re
import urllib.parse
from pathlib import Path

import pytest
from browser import chromium_page, screenshot

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "build" / "site" / "smoke"
NAMES = sorted(path.stem for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
NOTEBOOK_PAGE = "01_data"  # the data: captions in all 13 languages, and figures
# Korean, Japanese and Chinese text in a page: Hangul syllables, kana, Han ideographs (a notebook's
# captions); the landing page names the languages in their own scripts, and Japanese's name has no kana.
SCRIPTS = {"Korean": "[\uac00-\ud7a3]", "Japanese": "[\u3040-\u30ff]", "Chinese": "[\u4e00-\u9fff]"}
NATIVE_NAMES = {"Korean": "한국어", "Japanese": "日本語", "Chinese": "中文"}


def _builder():
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "scripts" / "build-site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def browser_page():
    if not (SITE / "index.html").exists():
        pytest.fail(
            f"{SITE.relative_to(ROOT)}/index.html is missing: `make nbval` (or `make paper PROFILE=smoke`) builds it"
        )
    with chromium_page() as page:
        fetched = []  # anything not from the file system: the site must need no network
        page.on(
            "request",
            lambda request: None if request.url.startswith(("file:", "data:")) else fetched.append(request.url),
        )
        yield page, fetched


def _ids(path: Path) -> set[str]:
    return {
        html.unescape(anchor) for anchor in re.findall(r'\s(?:id|name)="([^"]*)"', path.read_text(encoding="utf-8"))
    }


def look(page, fetched, relative: str, screenshot_name: str, cjk: dict[str, str]) -> dict:
    """Open a page of the site and check what every page needs; return what it shows."""
    page.goto((SITE / relative).as_uri(), wait_until="load", timeout=60_000)
    images = page.eval_on_selector_all(
        "img",
        "els => els.map(e => ({src: e.getAttribute('src').slice(0, 60), complete: e.complete,"
        " width: e.naturalWidth, height: e.naturalHeight}))",
    )
    broken = [image for image in images if not (image["complete"] and image["width"] > 0 and image["height"] > 0)]
    assert not broken, f"{relative}: images that did not load: {broken}"

    links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    dead = []
    for link in links:
        url = urllib.parse.urlsplit(link)
        if url.scheme in ("http", "https", "mailto"):
            continue  # external: the network is closed here; the site needs none of them
        target = Path(urllib.parse.unquote(url.path)).resolve()
        if url.scheme != "file" or not target.is_file() or SITE.resolve() not in target.parents:
            dead.append(f"{link} (no file of the site)")
        elif url.fragment and not {url.fragment, urllib.parse.unquote(url.fragment)} & _ids(target):
            dead.append(f"{link} (no anchor #{url.fragment} in {target.name})")  # as browsers look: raw, then decoded
    assert not dead, f"{relative}: internal links that lead nowhere: {dead}"

    text = page.inner_text("body")
    missing = [language for language, pattern in cjk.items() if not re.search(pattern, text)]
    assert not missing, f"{relative}: no {', '.join(missing)} text in the page"
    assert not fetched, f"{relative}: fetched from the network: {fetched}"
    screenshot(page, screenshot_name)
    return {"images": len(images), "links": len(links), "text": text}


def test_every_notebook_says_what_it_reproduces():
    assert sorted(_builder().REPRODUCES) == NAMES, "scripts/build-site.py's REPRODUCES should name every notebook"


def test_the_landing_page_lists_every_notebook_with_figures_verdict_profile_date_and_commit(browser_page):
    page, fetched = browser_page
    shown = look(page, fetched, "index.html", "site-index", NATIVE_NAMES)
    listed = page.eval_on_selector_all("table.notebooks tr", "rows => rows.map(r => r.id)")
    assert listed == NAMES, "the landing page lists the notebooks in make paper's order"
    assert shown["images"] >= 4, "the landing page shows the notebooks' first figures"
    assert "Profile smoke" in shown["text"] and re.search(
        r"built \d{4}-\d\d-\d\d \d\d:\d\d UTC from commit \w+", shown["text"]
    )
    assert "Headline verdict" in shown["text"] and "None:" not in shown["text"]
    api = page.eval_on_selector_all("a[href*='api/']", "els => els.map(e => e.href)")
    assert api, "the landing page links the topology engine's API reference"


def test_a_notebook_page_shows_its_cells_figures_and_tables(browser_page):
    page, fetched = browser_page
    shown = look(page, fetched, f"notebooks/{NOTEBOOK_PAGE}.html", f"site-{NOTEBOOK_PAGE}", SCRIPTS)
    assert page.locator(".jp-Cell").count() > 5 and page.locator(".jp-OutputArea-output table").count() >= 1
    assert shown["images"] >= 1, f"{NOTEBOOK_PAGE} has figures"
    assert "Reproduces" in shown["text"] and "profile smoke" in shown["text"]


def test_the_api_reference_lists_the_engines_public_names(browser_page):
    source = ast.parse((ROOT / "tomclip_lib" / "topology" / "__init__.py").read_text(encoding="utf-8"))
    public = next(
        ast.literal_eval(node.value)
        for node in source.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "__all__"
    )  # without torch's import
    page, fetched = browser_page
    page.goto((SITE / "api" / "tomclip_lib" / "topology.html").as_uri(), wait_until="load", timeout=60_000)
    documented = set(page.eval_on_selector_all("section[id] > .attr .name", "els => els.map(e => e.textContent)"))
    assert set(public) <= documented, f"undocumented: {sorted(set(public) - documented)}"
    headers = page.eval_on_selector_all("#AlignmentLoss table th", "els => els.map(e => e.textContent)")
    assert headers[:2] == ["ours", "reference code"], "AlignmentLoss's weight names are shown as a table"
    assert not fetched, f"fetched from the network: {fetched}"
