"""Build the reader's edition: a static site of one profile's executed notebooks.

    python scripts/build-site.py PROFILE      -> build/site/PROFILE/index.html  (`make site`)

What it writes (docs/rendered-edition.md says more):
    index.html             the landing page: what each notebook reproduces, the headline verdict,
                           the profile, the build date and the commit
    notebooks/NN_*.html    each executed notebook with its outputs, figures embedded
    figures/NN_*.png       the first figure of each notebook, for the landing page
    api/                   the topology engine's public API (tomclip_lib.topology), from its docstrings

Why nbconvert and one generated page, not Jupyter Book or MyST: nbconvert ships with Jupyter (it
is in requirements.lock already), renders an executed notebook as one self-contained page in about
a second (figures as data: URIs, tables from the notebooks' Markdown outputs), needs no network,
and its pages open from the file system with no server and no script; a book builder would add a
Sphinx or Node tool chain to the lock and to `make paper`'s time for a table of contents of eight
pages. The API reference is pdoc's: it reads docstrings and type hints of an importable module,
honours __all__, and writes plain HTML pages with no build step.
Nothing here is fetched: the notebook template below drops nbconvert's CDN scripts (require.js,
MathJax, Mermaid, the widget manager), which the notebooks do not need (no math, no widgets).
"""

from __future__ import annotations

import argparse
import ast
import base64
import datetime as dt
import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tomclip_lib import paths  # noqa: E402  (paths and the language list: the site needs no model code)
from tomclip_lib.data.languages import evaluated_languages  # noqa: E402

BUILD = ROOT / "build"
API_MODULE = "tomclip_lib.topology"

#: What each notebook reproduces (the paper's tables and figures); a test checks every notebook has one.
REPRODUCES = {
    "01_data": "the data section: parallel captions, images, splits, the data card",
    "02_teacher": "the frozen CLIP teacher and its English reference numbers (the tables' first row)",
    "03_train": "the training of MCLIP, ToMCLIP(dm), ToMCLIP(ta) and ToMCLIP, with ToMA and Topo-AE; "
    "full and low-resource settings",
    "04_evaluate": "the paper's two tables: zero-shot classification in 13 languages and multilingual retrieval",
    "05_ablations": "the batch-size figure; loss weights, sparsification, sliced vs exact L_ta, graph-H1, "
    "ToMA in the teacher",
    "06_figures": "the paper's figures: t-SNE of English and Korean, sorted-distance curves, persistence diagrams",
    "07_topology": "the method section: persistence diagrams of a batch, sparsification, Theorem 1, the engine's cost",
    "08_embedding_geometry": "the geometry of the shared space (arXiv 2405.18867): modality gap, separability, "
    "effective dimension",
}

# The lab template without what it would fetch from CDNs (a file:// page offline would wait on them),
# with a navigation bar above and below the notebook.
NOTEBOOK_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style>{{ resources.site_css }}</style>{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}{{ resources.site_nav }}{%- endblock body_header -%}
{%- block body_footer -%}{{ resources.site_nav }}{{ super() }}{%- endblock body_footer -%}
"""

NAV_CSS = """
nav.site { font-family: system-ui, sans-serif; font-size: 14px; margin: 0 0 1em; padding: .6em 1em;
  background: #f3f6f8; border: 1px solid #d8e0e6; border-radius: 6px; display: flex; flex-wrap: wrap;
  gap: .4em 1.4em; align-items: baseline; }
nav.site .what { flex-basis: 100%; color: #444; }
nav.site a { color: #0b5cad; }
"""

INDEX_CSS = """
body { font-family: system-ui, "Noto Sans CJK JP", sans-serif; max-width: 1100px; margin: 2em auto;
  padding: 0 1.2em; line-height: 1.5; color: #1d2329; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #dde3e8; }
.meta { color: #4a5560; } .meta code { background: #f1f3f5; padding: 0 .3em; border-radius: 3px; }
.note { background: #fff8e1; border-left: 4px solid #e0a800; padding: .5em 1em; }
.verdict { background: #eef6ee; border-left: 4px solid #2e7d32; padding: .6em 1em; font-size: 1.05em; }
table.notebooks { border-collapse: collapse; width: 100%; }
table.notebooks td, table.notebooks th { border-top: 1px solid #dde3e8; padding: .6em .5em; vertical-align: top;
  text-align: left; }
table.notebooks img { width: 220px; height: auto; border: 1px solid #dde3e8; }
table.md { border-collapse: collapse; font-size: .9em; } table.md td, table.md th { border: 1px solid #dde3e8;
  padding: .15em .5em; }
.langs span { display: inline-block; margin-right: 1em; }
footer { margin-top: 3em; color: #6a7580; font-size: .9em; }
"""


def fail(message: str) -> None:
    sys.exit(f"build-site: {message}")


def notebook_names() -> list[str]:
    """Every notebook of `make paper`, in order (the sources notebooks/NN_*.py)."""
    return sorted(path.stem for path in paths.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py"))


def load_executed(profile: str, names: list[str]):
    import nbformat

    folder = BUILD / "executed" / profile
    missing = [name for name in names if not (folder / f"{name}.ipynb").exists()]
    if missing:
        failed = [name for name in missing if (folder / f"{name}.failed.ipynb").exists()]
        fail(
            f"no executed notebook for {', '.join(missing)} in {folder.relative_to(ROOT)}/"
            + (f" ({', '.join(failed)} failed: see {folder.relative_to(ROOT)}/<name>.failed.ipynb)" if failed else "")
            + f". The site shows executed notebooks only: run `make paper PROFILE={profile}` (it runs them and"
            f" then builds the site)."
        )
    return {name: nbformat.read(folder / f"{name}.ipynb", as_version=4) for name in names}


def title_and_summary(notebook) -> tuple[str, str]:
    """The title cell's heading and its first sentence (Markdown; empty when it runs on into a list or a table)."""
    first = next((cell.source for cell in notebook.cells if cell.cell_type == "markdown"), "")
    lines = first.splitlines()
    title = next((line.lstrip("# ").strip() for line in lines if line.startswith("#")), "")
    paragraph = " ".join("\n".join(line for line in lines if not line.startswith("#")).strip().split("\n\n")[0].split())
    sentence = re.match(r"(.+?[.!?])(?=\s+[A-Z(\"`*]|$)", paragraph)
    return title, sentence.group(1) if sentence else ""


def parameters(notebook) -> dict:
    """The values the notebook ran with: its parameters cell's defaults, then what papermill injected."""
    values = {}
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and ("parameters" in tags or "injected-parameters" in tags):
            for statement in ast.parse(cell.source).body:
                if (
                    isinstance(statement, ast.Assign)
                    and len(statement.targets) == 1
                    and isinstance(statement.targets[0], ast.Name)
                ):
                    try:
                        values[statement.targets[0].id] = ast.literal_eval(statement.value)
                    except ValueError:
                        pass  # not a literal: not needed here
    return values


def outputs_of(notebook):
    for cell in notebook.cells:
        if cell.cell_type == "code":
            yield from cell.get("outputs", [])


def is_table(output) -> bool:
    data = output.get("data", {})
    return "<table" in str(data.get("text/html", "")) or bool(
        re.search(r"^\|[-:| ]+\|$", str(data.get("text/markdown", "")), re.M)
    )


def git_commit() -> str:
    def git(*args):
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30)

    head = git("rev-parse", "--short", "HEAD")
    if head.returncode:
        return "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return head.stdout.strip() + (" with uncommitted changes" if dirty else "")


def markdown(text: str) -> str:
    import mistune

    return mistune.create_markdown(plugins=["table"], escape=True)(text).replace("<table>", '<table class="md">')


def verdict(profile: str) -> str:
    """The headline verdict and the findings, as tomclip_lib.stages.findings wrote them in
    results/<profile>/ (headline.md, findings.md: the same sentences the README shows)."""
    folder = paths.results_dir(profile)
    headline, findings = folder / "headline.md", folder / "findings.md"
    tables = folder / "tomclip_vs_mclip.csv"

    def where(path: Path) -> str:
        return f"<code>{html.escape(str(path.relative_to(ROOT)))}</code>"

    def stale(path: Path) -> str:
        if tables.exists() and tables.stat().st_mtime > path.stat().st_mtime:
            return (
                f"; written before notebook 04's latest tables (<code>python scripts/findings.py {html.escape(profile)}"
                "</code> writes it anew)"
            )
        return ""

    bullets = (
        [line[2:] for line in findings.read_text(encoding="utf-8").splitlines() if line.startswith("- ")]
        if findings.exists()
        else []
    )
    more = (
        (
            f"<details><summary>What we find: {len(bullets)} findings, from {where(findings)}{stale(findings)}</summary><ul>"
            + "".join(f"<li>{markdown(b)}</li>" for b in bullets)
            + "</ul></details>"
        )
        if bullets
        else ""
    )
    if headline.exists():
        return (
            f'<div class="verdict">{markdown(headline.read_text(encoding="utf-8"))}</div>'
            f'<p class="meta">From {where(headline)}{stale(headline)}.</p>' + more
        )
    return (
        f"<p>None yet: no {where(headline)} for this profile (<code>python scripts/findings.py "
        f"{html.escape(profile)}</code> writes it from notebook 04's tables).</p>" + more
    )


def languages(notebooks) -> str:
    from babel import Locale

    codes = (
        evaluated_languages(parameters(notebooks["04_evaluate"]).get("languages")) if "04_evaluate" in notebooks else []
    )
    names = []
    for code in codes:
        try:
            native = Locale.parse(code).get_display_name(code)
        except Exception:  # an unknown code: show it as it is
            native = code
        names.append(f'<span lang="{html.escape(code)}"><code>{html.escape(code)}</code> {html.escape(native)}</span>')
    return f'<p class="langs">{"".join(names)}</p>' if names else ""


def render_notebooks(notebooks, out: Path, profile: str) -> None:
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"tomclip-site.html.j2": NOTEBOOK_TEMPLATE})],
        template_file="tomclip-site.html.j2",
    )
    names = list(notebooks)
    (out / "notebooks").mkdir(parents=True)
    for number, name in enumerate(names):
        title, _ = title_and_summary(notebooks[name])
        links = ['<a href="../index.html">&larr; all notebooks</a>']
        if number > 0:
            links.append(f'<a href="{names[number - 1]}.html">&lsaquo; {names[number - 1]}</a>')
        if number + 1 < len(names):
            links.append(f'<a href="{names[number + 1]}.html">{names[number + 1]} &rsaquo;</a>')
        nav = (
            f'<nav class="site">{" ".join(links)}<span>profile <b>{html.escape(profile)}</b></span>'
            f"<span>source <code>notebooks/{name}.py</code></span>"
            f'<span class="what">Reproduces {html.escape(REPRODUCES.get(name, "(not listed)"))}.</span></nav>'
        )
        notebook = notebooks[name]
        notebook.metadata["title"] = f"{title} ({profile})"
        page, _ = exporter.from_notebook_node(notebook, resources={"site_nav": nav, "site_css": NAV_CSS})
        (out / "notebooks" / f"{name}.html").write_text(page, encoding="utf-8")


def first_figure(notebook) -> bytes | None:
    for output in outputs_of(notebook):
        if "image/png" in output.get("data", {}):
            return base64.b64decode(output["data"]["image/png"])
    return None


def render_api(out: Path) -> None:
    import pdoc
    import pdoc.render

    pdoc.render.configure(docformat="markdown", footer_text="tomclip: the topology engine")
    pdoc.pdoc(API_MODULE, output_directory=out / "api")


def render_index(notebooks, out: Path, profile: str) -> None:
    (out / "figures").mkdir()
    rows = []
    for name, notebook in notebooks.items():
        title, summary = title_and_summary(notebook)
        outputs = list(outputs_of(notebook))
        figures = sum("image/png" in o.get("data", {}) for o in outputs)
        tables = sum(is_table(o) for o in outputs)
        seconds = notebook.metadata.get("papermill", {}).get("duration")
        thumbnail = first_figure(notebook)
        if thumbnail:
            (out / "figures" / f"{name}.png").write_bytes(thumbnail)
        rows.append(
            f'<tr id="{name}"><td><a href="notebooks/{name}.html"><b>{html.escape(title)}</b></a>'
            f"<p><b>Reproduces</b> {html.escape(REPRODUCES.get(name, '(not listed in scripts/build-site.py)'))}.</p>"
            + (markdown(summary) if summary else "")
            + f'<p class="meta">{figures} figure(s), {tables} table(s)'
            + (f", ran {seconds / 60:.1f} min" if seconds else "")
            + "</p></td>"
            + (
                f'<td><a href="notebooks/{name}.html"><img src="figures/{name}.png" alt="first figure of {name}"></a></td>'
                if thumbnail
                else "<td></td>"
            )
            + "</tr>"
        )
    runs = [nb.metadata.get("papermill", {}).get("end_time") for nb in notebooks.values()]
    ran = max((r for r in runs if r), default=None)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    smoke = (
        '<p class="note">The <b>smoke</b> profile: the same cells on a small slice of the data with few '
        "steps, for the tests. Its numbers check that the code runs, they are not results.</p>"
        if profile == "smoke"
        else ""
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tomclip: the reader's edition ({html.escape(profile)})</title><style>{INDEX_CSS}</style></head>
<body>
<h1>tomclip: the reader's edition</h1>
<p>The executed notebooks of the companion to <i>Topological Alignment of Shared Vision-Language Embedding
Space</i> (ToMCLIP, arXiv 2510.10889), with every figure and table, in the order <code>make paper</code> runs them.</p>
<p class="meta">Profile <b>{html.escape(profile)}</b> &middot; built {now} from commit <code>{html.escape(git_commit())}</code>
{f"&middot; notebooks last run {html.escape(str(ran)[:16].replace('T', ' '))} UTC" if ran else ""}
&middot; rebuild with <code>make site PROFILE={html.escape(profile)}</code></p>
{smoke}
<h2 id="verdict">Headline verdict</h2>
{verdict(profile)}
<h2 id="notebooks">The notebooks</h2>
<p>Students are evaluated in these languages:</p>
{languages(notebooks)}
<table class="notebooks">{"".join(rows)}</table>
<h2 id="api">The topology engine</h2>
<p><a href="api/{API_MODULE.replace(".", "/")}.html">The API reference of <code>{API_MODULE}</code></a>: the losses and
persistence code to import into your own training, from its docstrings.</p>
<footer>Generated by <code>scripts/build-site.py</code> from <code>build/executed/{html.escape(profile)}/</code>;
do not edit: <code>make site PROFILE={html.escape(profile)}</code> rebuilds it.</footer>
</body></html>
"""
    (out / "index.html").write_text(page, encoding="utf-8")


def build(profile: str) -> Path:
    names = notebook_names()
    notebooks = load_executed(profile, names)
    site = BUILD / "site" / profile
    work = site.with_name(f".{profile}.partial")  # the finished site replaces the old one at once
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    render_notebooks(notebooks, work, profile)
    render_index(notebooks, work, profile)
    render_api(work)
    shutil.rmtree(site, ignore_errors=True)
    work.rename(site)
    return site


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", help="embedded | smoke | paper")
    site = build(parser.parse_args().profile)
    print(
        f"reader's edition: {(site / 'index.html').relative_to(ROOT)} (open it in a browser: file://{site / 'index.html'})"
    )
