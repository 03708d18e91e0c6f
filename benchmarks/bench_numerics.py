"""Benchmark: what the pinned numeric environment (numerics.env) costs on this machine.

    .venv/bin/python benchmarks/bench_numerics.py

Three workloads, each timed in a child process in each environment (medians after a warm-up):
the student's backbone forward (a random 12-layer, 384-wide BERT, as multilingual-e5-small, on 64
captions of 32 tokens: the feature extraction of notebook 03), and one training step of an embedded
student head (384 -> 1024 -> 384, batch 256) for MCLIP and for ToMCLIP. Environments: pinned
(numerics.env), unpinned (this CPU's own kernels, MKL's automatic path, same thread count) and
MKL_CBWR=COMPATIBLE (the one MKL path that is the same on Intel and AMD, docs/determinism.md). On a CPU with only
AVX2 the first two run the same kernels. Writes results/benchmarks/numerics_cost_<vendor>.md.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tomclip_lib import numerics  # noqa: E402
from tomclip_lib.io import write_text  # noqa: E402

UNPINNED = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA", "NUMBA_CPU_NAME")


def measure() -> dict[str, float]:
    import torch
    from transformers import BertConfig, BertModel
    from transformers.utils import logging

    from tomclip_lib.topology import AlignmentLoss

    logging.set_verbosity_error()
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    bert = BertModel(
        BertConfig(hidden_size=384, num_hidden_layers=12, num_attention_heads=12, intermediate_size=1536)
    ).eval()
    tokens = torch.randint(0, 1000, (64, 32), generator=generator)

    def median_ms(step, repeats: int) -> float:
        step()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        return 1000 * statistics.median(times)

    with torch.no_grad():
        result = {
            "torch kernels": torch.backends.cpu.get_cpu_capability(),
            "backbone forward, 64 captions": median_ms(lambda: bert(tokens), 5),
        }
    features = torch.randn(256, 384, generator=generator)
    targets = torch.nn.functional.normalize(torch.randn(256, 384, generator=generator), dim=1)
    for name, weights in (
        ("MCLIP", {"pointwise": 1.0}),
        ("ToMCLIP", {"pointwise": 1.0, "distance_matrix": 0.01, "topology_h0": 0.01}),
    ):
        head = torch.nn.Sequential(torch.nn.Linear(384, 1024), torch.nn.GELU(), torch.nn.Linear(1024, 384))
        optimizer = torch.optim.AdamW(head.parameters(), lr=1e-3, fused=True)
        loss_fn = AlignmentLoss(**weights)

        def step():
            total, _ = loss_fn(head(features), targets)
            optimizer.zero_grad()
            total.backward()
            optimizer.step()

        result[f"{name} head training step, batch 256"] = median_ms(step, 30)
    return result


def _vendor() -> str:
    """'intel' or 'amd' (or 'other'): each vendor's figures keep a file of their own, since MKL runs
    other code on each."""
    model = numerics.cpu_model()
    return "intel" if "GenuineIntel" in model else "amd" if "AuthenticAMD" in model else "other"


def main() -> int:
    pinned = {**os.environ, **numerics.pinned()}
    environments = {
        "pinned (numerics.env)": pinned,
        "unpinned": {k: v for k, v in pinned.items() if k not in UNPINNED},
        "MKL_CBWR=COMPATIBLE": {**pinned, "MKL_CBWR": "COMPATIBLE"},
    }
    columns = {}
    for label, env in environments.items():
        run = subprocess.run(
            [sys.executable, "-W", "ignore", __file__, "--measure"], env=env, check=True, capture_output=True, text=True
        )
        columns[label] = json.loads(run.stdout.strip().splitlines()[-1])
    header = (
        f"Cost of the pinned numeric environment, ms (medians), measured "
        f"{datetime.date.today().isoformat()} on an {numerics.cpu_model()}, {platform.machine()} with "
        f"{os.cpu_count()} cores, {numerics.pinned().get('OMP_NUM_THREADS')} threads (benchmarks/bench_numerics.py)."
    )
    labels = list(columns)
    lines = [header, "", "| workload | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for workload in columns[labels[0]]:
        cells = [columns[label][workload] for label in labels]
        lines.append(f"| {workload} | " + " | ".join(c if isinstance(c, str) else f"{c:.1f}" for c in cells) + " |")
    text = "\n".join(lines) + "\n"
    write_text(ROOT / "results" / "benchmarks" / f"numerics_cost_{_vendor()}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--measure"]:
        print(json.dumps(measure()))
    else:
        sys.exit(main())
