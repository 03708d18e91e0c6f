"""The numeric environment a computation ran in, against the pinned one of numerics.env.

`make` exports numerics.env to every recipe and writes it into the Jupyter kernel; this module
reads the same file, so a run can say (and a test can check) whether its kernels and thread count
are the pinned ones. It never changes them: they must be set before torch, MKL or numba start, and
a user importing the loss into their own training keeps their own.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from . import paths

ENV_FILE = paths.REPO_ROOT / "numerics.env"


def pinned(path: Path = ENV_FILE) -> dict[str, str]:
    """NAME -> value of numerics.env (empty when the file is absent, as in an installed wheel)."""
    if not path.is_file():
        return {}
    settings = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            settings[name.strip()] = value.strip()
    return settings


def active() -> dict[str, str]:
    """What this process runs with: the pinned variables as set, torch's kernels and threads."""
    import torch

    state = {name: os.environ.get(name, "(unset)") for name in pinned()}
    state["torch kernels"] = torch.backends.cpu.get_cpu_capability()
    state["torch threads"] = str(torch.get_num_threads())
    return state


def cpu_model() -> str:
    """This machine's processor as /proc/cpuinfo names it, its vendor and whether it has AVX-512:
    what decides which kernels MKL runs (docs/determinism.md)."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return "unknown processor"
    first_cpu = info.split("\n\n", 1)[0]
    fields = {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in first_cpu.splitlines())}
    name, vendor = fields.get("model name", "unnamed"), fields.get("vendor_id", "unknown vendor")
    return f"{name} ({vendor}, {'with AVX-512' if 'avx512f' in fields.get('flags', '') else 'AVX2, no AVX-512'})"


def signature() -> str:
    """The kernels in use, in one string, for cache keys: features computed under other kernels
    differ in their last bits, so a shared cache keeps them apart. The thread count is left out: a
    text encoder's forward pass gives the same bits with 1 and 2 threads under MKL_CBWR=...,STRICT
    (the guard of `make test` relies on it)."""
    import torch

    settings = {name: os.environ.get(name, "") for name in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")}
    return "|".join([torch.backends.cpu.get_cpu_capability(), *(f"{k}={v}" for k, v in settings.items())])


def differences() -> list[str]:
    """Each way this process differs from numerics.env, in words (empty: it is pinned)."""
    import torch

    wanted, problems = pinned(), []
    for name, value in wanted.items():
        if os.environ.get(name) != value:
            problems.append(f"{name}={os.environ.get(name, '(unset)')} (numerics.env: {value})")
    capability = wanted.get("ATEN_CPU_CAPABILITY")
    if capability and torch.backends.cpu.get_cpu_capability().lower() != capability.lower():
        problems.append(
            f"torch runs its {torch.backends.cpu.get_cpu_capability()} kernels (numerics.env: {capability})"
        )
    threads = wanted.get("OMP_NUM_THREADS")
    if threads and torch.get_num_threads() != int(threads):
        problems.append(f"torch uses {torch.get_num_threads()} threads (numerics.env: {threads})")
    return problems


def describe() -> str:
    """One line for a notebook: pinned or not, and the kernels and threads in use."""
    state = active()
    problems = differences()
    where = f"torch {state['torch kernels']} kernels, {state['torch threads']} threads"
    if not pinned():
        return f"numeric environment: not pinned, no {ENV_FILE} ({where})"
    if not problems:
        return f"numeric environment: pinned by numerics.env ({where})"
    return f"numeric environment: NOT the pinned one ({where}; {'; '.join(problems)})"


def check() -> None:
    """Warn when a run is not in the pinned environment: its trained runs may differ in the last
    bits, and so in discrete choices, from the published tables' (run it through `make` or the kernel)."""
    problems = differences()
    if problems:
        warnings.warn(
            "tomclip: not the pinned numeric environment of numerics.env ("
            + "; ".join(problems)
            + "); results can differ from the recorded ones. Run through `make` or the `tomclip` kernel.",
            stacklevel=2,
        )
