"""Figures of the companion. Each function draws and returns a matplotlib Figure; saving goes
through `report.save_figure`, so every figure has one style and one place."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import report


def image_grid(images: np.ndarray, captions: list[list[str]], ncols: int = 6, title: str | None = None):
    """Images in a grid, each with several caption lines under it (e.g. one per language)."""
    import matplotlib.pyplot as plt

    report.use_style()
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    lines = max(len(c) for c in captions)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.9 * ncols, (1.6 + 0.15 * lines) * nrows),
                             squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions):
        ax.axis("on")
        ax.imshow(image, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xlabel("\n".join(caption), fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def grouped_counts(frame: pd.DataFrame, category: str, hue: str, title: str):
    """Horizontal bars: how many rows of `frame` fall in each category, split by `hue`."""
    import matplotlib.pyplot as plt

    report.use_style()
    table = frame.groupby([category, hue]).size().unstack(fill_value=0)
    table = table.loc[table.sum(axis=1).sort_values().index]
    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(table) + 1.2))
    table.plot.barh(stacked=True, ax=ax, width=0.75)
    ax.set_xlabel("count")
    ax.set_ylabel("")
    ax.set_title(title)
    ax.legend(title=hue, loc="lower right")
    return fig
