"""Every path tomclip uses, derived from the repository root or the cache folder.

Code that reads or writes files asks this module, so notebooks, tests and scripts behave the same
from any working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The repository (the folder holding pyproject.toml); override with TOMCLIP_ROOT.
REPO_ROOT = Path(os.environ.get("TOMCLIP_ROOT", Path(__file__).resolve().parents[1]))
PARAMS_DIR = REPO_ROOT / "params"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


def cache_dir() -> Path:
    """Converted models, rendered images and cached features: shared by all profiles and clones.

    TOMCLIP_CACHE if set, else $XDG_CACHE_HOME/tomclip, else ~/.cache/tomclip.
    """
    if "TOMCLIP_CACHE" in os.environ:
        return Path(os.environ["TOMCLIP_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tomclip"


def results_dir(profile: str) -> Path:
    """Tables and data cards (CSV, Markdown, JSON) of one profile."""
    return REPO_ROOT / "results" / profile


def figures_dir(profile: str) -> Path:
    """Figures (PNG and PDF) of one profile."""
    return REPO_ROOT / "figures" / profile


def artifacts_dir(profile: str) -> Path:
    """Expensive intermediate products of one profile: checkpoints, embeddings, metrics."""
    return REPO_ROOT / "artifacts" / profile
