"""The one way tables and figures leave tomclip: fixed style, fixed places, atomic writes.

Tables go to results/<profile>/ as CSV (for code) and Markdown (for the README); figures to
figures/<profile>/ as PNG (for the README and notebooks) and PDF (for papers).
"""
from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from . import assets, paths
from .io import atomic_path, write_text

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 160,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "pdf.fonttype": 42,  # embed TrueType: text stays text in the PDF
}
#: Latin/Cyrillic first, then CJK for Hangul, kana and Han: matplotlib falls back glyph by glyph.
FONT_FAMILY = ["DejaVu Sans", "Noto Sans CJK JP"]


@functools.cache
def _register_cjk_font() -> None:
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(assets.asset_file("noto-sans-cjk", "NotoSansCJK-Regular.ttc")))


def use_style() -> None:
    """Apply tomclip's figure style (and the CJK font) to matplotlib globally."""
    import matplotlib as mpl

    _register_cjk_font()
    mpl.rcParams.update(STYLE)
    mpl.rcParams["font.family"] = FONT_FAMILY


def save_figure(fig, name: str, profile: str) -> list[Path]:
    """Write `fig` as figures/<profile>/<name>.png and .pdf; return the two paths."""
    out = []
    for suffix in (".png", ".pdf"):
        target = paths.figures_dir(profile) / f"{name}{suffix}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=suffix[1:])
        out.append(target)
    return out


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".2f") -> str:
    return frame.to_markdown(index=False, floatfmt=floatfmt) + "\n"


def save_table(frame: pd.DataFrame, name: str, profile: str, floatfmt: str = ".2f") -> list[Path]:
    """Write results/<profile>/<name>.csv and .md; return the two paths."""
    folder = paths.results_dir(profile)
    csv_path, md_path = folder / f"{name}.csv", folder / f"{name}.md"
    write_text(csv_path, frame.to_csv(index=False))
    write_text(md_path, markdown_table(frame, floatfmt))
    return [csv_path, md_path]
