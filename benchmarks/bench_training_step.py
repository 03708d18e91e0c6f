"""Benchmark: one training step of the embedded student for every objective, measured in one run.

    .venv/bin/python benchmarks/bench_training_step.py [--batch 256] [--rounds 200]

The step is train_student's (tomclip_lib/train.py): the frozen-backbone student's head (384 -> 1024
-> 384) on a batch of cached features, AlignmentLoss with the variant's weights, backward, fused
AdamW, under torch.use_deterministic_algorithms as training runs it, in the pinned environment.
Variants are timed round-robin (one step of each per round), so a machine that slows down during the
run slows all of them alike; medians over the rounds, and x_mclip_step is the median over rounds of
the variant's step over MCLIP's in the same round, with its quartiles. "loss" is the AlignmentLoss forward and
backward on the head's output alone. Writes results/benchmarks/training_step_cpu.{csv,md}: issue 15's
target is a topological variant's step at most 1.25x MCLIP's at batch 256.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tomclip_lib import numerics, report  # noqa: E402
from tomclip_lib.models.student import Student, StudentConfig  # noqa: E402
from tomclip_lib.topology import AlignmentLoss  # noqa: E402
from tomclip_lib.train import VARIANTS  # noqa: E402

TARGET = 1.25  # issue 15: a topological step at most this many times MCLIP's


class _FeatureBackbone(nn.Module):
    """Stands in for the frozen backbone, whose features training reads from the cache."""

    def __init__(self, width: int):
        super().__init__()
        self.config = SimpleNamespace(hidden_size=width)


def _variant_steps(batch: int, width: int = 384):
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(batch, width, generator=generator)
    targets = nn.functional.normalize(torch.randn(batch, 384, generator=generator), dim=1)
    steps = {}
    for variant, weights in VARIANTS.items():
        student = Student(StudentConfig(), backbone=_FeatureBackbone(width), seed=0).train()
        optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=1e-3, fused=True)
        loss_fn = AlignmentLoss(**weights)

        def step(student=student, optimizer=optimizer, loss_fn=loss_fn):
            total, _ = loss_fn(student(features), targets)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()

        def loss_only(loss_fn=loss_fn, outputs=student(features).detach()):
            loss_fn(outputs.clone().requires_grad_(), targets)[0].backward()

        steps[variant] = (step, loss_only)
    return steps


def run(batch: int, rounds: int) -> pd.DataFrame:
    steps = _variant_steps(batch)
    times = {variant: ([], []) for variant in steps}
    for round_ in range(rounds + 5):  # five rounds of warm-up (numba compiles on the first)
        for variant, pair in steps.items():
            for kind, function in enumerate(pair):
                start = time.perf_counter()
                function()
                if round_ >= 5:
                    times[variant][kind].append(time.perf_counter() - start)
    mclip = np.array(times["MCLIP"][0])
    rows = []
    for variant, (step, loss) in times.items():
        ratios = np.array(step) / mclip  # paired by round: a slow spell of the machine cancels
        rows.append(
            {
                "variant": variant,
                "step_ms": 1000 * statistics.median(step),
                "loss_ms": 1000 * statistics.median(loss),
                "x_mclip_step": float(np.median(ratios)),
                "x_mclip_q25_q75": f"{np.quantile(ratios, 0.25):.2f}-{np.quantile(ratios, 0.75):.2f}",
            }
        )
    table = pd.DataFrame(rows)
    table["meets_target"] = (table["x_mclip_step"] <= TARGET) | (table["variant"] == "MCLIP")
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    numerics.check()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)  # as train_student runs on the CPU
    try:
        table = run(args.batch, args.rounds)
    finally:
        torch.use_deterministic_algorithms(deterministic)
    header = (
        f"One training step of the embedded student, batch {args.batch}, measured "
        f"{datetime.date.today().isoformat()} on an {numerics.cpu_model()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; medians of {args.rounds} round-robin rounds, ms "
        f"(benchmarks/bench_training_step.py); x_mclip_step: the median over rounds of a step's time over "
        f"MCLIP's in the same round, with its quartiles. Target: a topological step at most {TARGET}x MCLIP's."
    )
    report.save_table(table, "training_step_cpu", "benchmarks", floatfmt=".2f", caption=header)
    print(header)
    print(report.markdown_table(table, floatfmt=".2f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
