"""The one way tables and figures leave tomclip: fixed style, fixed places, atomic writes.

Tables go to results/<profile>/ as CSV (for code) and Markdown (for RESULTS.md and the README); figures to
figures/<profile>/ as PNG (for the rendered edition and notebooks) and PDF (for papers).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from . import assets, paths
from .errors import TomclipError
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


def save_figure(fig, name: str, profile: str):
    """Write `fig` as figures/<profile>/<name>.png and .pdf, and return it for display.

    The figure is closed in pyplot first, so a notebook cell ending in this call shows it once.
    """
    import matplotlib.pyplot as plt

    for suffix in (".png", ".pdf"):
        with atomic_path(paths.figures_dir(profile) / f"{name}{suffix}") as tmp:
            fig.savefig(tmp, format=suffix[1:])
    plt.close(fig)
    return fig


PEAK_MEMORY_LABEL = "peak memory of this notebook's kernel"


def peak_memory_note() -> str:
    """The kernel's peak resident memory so far (Linux reports kilobytes), for the timing table."""
    import resource

    return f"{PEAK_MEMORY_LABEL}: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.2f} GB"


def markdown_table(frame: pd.DataFrame, floatfmt: str | list[str] = ".2f") -> str:
    """A Markdown table; integer columns stay integers (floatfmt, one or one per column, applies to floats only)."""
    integers = frame.select_dtypes("integer").columns
    frame = frame.astype({column: object for column in integers})
    return frame.to_markdown(index=False, floatfmt=floatfmt) + "\n"


def save_table(
    frame: pd.DataFrame,
    name: str,
    profile: str,
    floatfmt: str | list[str] = ".2f",
    caption: str | None = None,
    markdown_columns: list[str] | None = None,
) -> list[Path]:
    """Write results/<profile>/<name>.csv and .md (the caption, if any, above the table). The CSV
    holds every column; `markdown_columns` picks what a reader's table shows (None: all)."""
    folder = paths.results_dir(profile)
    csv_path, md_path = folder / f"{name}.csv", folder / f"{name}.md"
    write_text(csv_path, frame.to_csv(index=False))
    shown = frame if markdown_columns is None else frame[markdown_columns]
    write_text(md_path, (caption + "\n\n" if caption else "") + markdown_table(shown, floatfmt))
    return [csv_path, md_path]


def save_records(frame: pd.DataFrame, name: str, profile: str, sort_by: list[str] | None = None) -> Path:
    """Write results/<profile>/<name>.parquet, atomically: per-item records, too many rows for a
    Markdown table, with their types (categories, small integers) kept, zstd-compressed at its
    strongest level in one row group (seconds; written once per run, read often). `sort_by` (stable)
    puts an item's rows of every run side by side, and items of one class together: runs mostly agree
    on an item, and items of a class on their errors (the embedded zero-shot records: 28 MB in run
    order, 7.4 MB by item at the default level, 5.2 MB so)."""
    path = paths.results_dir(profile) / f"{name}.parquet"
    if sort_by:
        frame = frame.sort_values(sort_by, kind="stable", ignore_index=True)
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False, compression="zstd", compression_level=19, row_group_size=len(frame) or None)
    return path


def read_records(name: str, profile: str) -> pd.DataFrame:
    """The per-item records save_records wrote, with a message that says which notebook writes them."""
    path = paths.results_dir(profile) / f"{name}.parquet"
    if not path.is_file():
        raise TomclipError(f"No {path}: run notebook 04_evaluate first (make paper PROFILE={profile}).")
    return pd.read_parquet(path)
