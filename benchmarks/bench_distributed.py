"""Benchmark: one gathered-batch training step with 1, 2 and 4 processes on the CPU (gloo), and its parts.

    .venv/bin/python benchmarks/bench_distributed.py [--batch 256] [--rounds 50] [--processes 1 2 4]

The step is train_student's under torchrun (tomclip_lib/train.py, distributed.py): the embedded
student's head (384 -> 1024 -> 384) under DistributedDataParallel on this rank's batch / N cached
features, the rows of every rank gathered with their gradients, ToMCLIP's loss (point-wise,
distance-matrix, H0 topology) on the whole batch, backward (the gather's and DDP's collectives
included), fused AdamW. One process takes train_student's single-process path (no gather, no DDP).
Parts, each the fastest of the rounds on rank 0 (the machine may be shared: the fastest round is
the least disturbed one, so the parts need not add up to the step), each timed after a barrier so
that no rank's wait counts as another part's work: "encoder" the head's forward on the local rows, "gather" the gather's
forward alone (a separate call on the same rows), "loss" the loss forward on the gathered batch,
"backward" the backward pass, "optimiser" AdamW. The processes share the machine's cores: each uses
cores / N threads. Writes results/benchmarks/distributed_cpu.{csv,md}.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_training_step import _FeatureBackbone  # noqa: E402

from tomclip_lib import distributed, numerics, report  # noqa: E402
from tomclip_lib.models.student import Student, StudentConfig  # noqa: E402
from tomclip_lib.topology import AlignmentLoss  # noqa: E402
from tomclip_lib.train import VARIANTS  # noqa: E402

PARTS = ["encoder", "gather", "loss", "backward", "optimiser"]


def _measure(batch: int, rounds: int, ranks: distributed.Ranks | None) -> dict[str, float]:
    """The fastest milliseconds of the step and of each of its parts on this process."""
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(batch, 384, generator=generator)
    targets = nn.functional.normalize(torch.randn(batch, 384, generator=generator), dim=1)
    student = Student(StudentConfig(), backbone=_FeatureBackbone(384), seed=0).train()
    model = student if ranks is None else DistributedDataParallel(student)
    optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=1e-3, fused=True)
    loss_fn = AlignmentLoss(**VARIANTS["ToMCLIP"])
    rows = torch.arange(batch)
    local, counts = (rows, [batch]) if ranks is None else distributed.shard(rows, ranks)

    def synchronised() -> float:
        if ranks is not None:
            distributed.barrier()
        return time.perf_counter()

    times = {part: [] for part in ["step", *PARTS]}
    for round_ in range(rounds + 5):  # five rounds of warm-up (numba compiles on the first)
        start = synchronised()
        outputs = model(features[local])
        encoded = synchronised()
        gathered = outputs if ranks is None else distributed.gather_rows(outputs, counts)
        collected = synchronised()
        total, _ = loss_fn(gathered.float(), targets)
        lost = synchronised()
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        backward = synchronised()
        optimizer.step()
        end = synchronised()
        if ranks is not None:  # the gather alone, timed apart from the step
            alone = synchronised()
            distributed.gather_rows(outputs.detach(), counts)
            gather_ms = synchronised() - alone
        else:
            gather_ms = collected - encoded
        if round_ >= 5:
            for part, seconds in zip(
                ["step", "encoder", "gather", "loss", "backward", "optimiser"],
                [end - start, encoded - start, gather_ms, lost - collected, backward - lost, end - backward],
            ):
                times[part].append(1000 * seconds)
    return {part: min(values) for part, values in times.items()}


def _worker(batch: int, rounds: int, out: str) -> None:
    ranks = distributed.init_from_environment()
    try:
        medians = _measure(batch, rounds, ranks)
        if ranks.leader:
            Path(out).write_text(json.dumps(medians))
    finally:
        dist.destroy_process_group()


def run(batch: int, rounds: int, processes: list[int]) -> pd.DataFrame:
    cores = len(os.sched_getaffinity(0))
    rows = []
    for count in processes:
        threads = max(1, cores // count)
        if count == 1:
            torch.set_num_threads(threads)
            medians = _measure(batch, rounds, None)
        else:
            with tempfile.TemporaryDirectory() as folder:
                out = Path(folder) / "medians.json"
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "torch.distributed.run",
                        "--standalone",
                        "--nproc-per-node",
                        str(count),
                        __file__,
                        "--worker",
                        str(out),
                        "--batch",
                        str(batch),
                        "--rounds",
                        str(rounds),
                    ],
                    check=True,
                    env={**os.environ, "OMP_NUM_THREADS": str(threads)},
                    timeout=1800,
                )
                medians = json.loads(out.read_text())
        rows.append(
            {
                "processes": count,
                "rows per process": -(-batch // count),
                "threads each": threads,
                **{f"{part} ms": value for part, value in medians.items()},
            }
        )
    table = pd.DataFrame(rows)
    table["gather / encoder"] = table["gather ms"] / table["encoder ms"]
    table.loc[table["processes"] == 1, ["gather ms", "gather / encoder"]] = 0.0
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--worker", metavar="OUT", help=argparse.SUPPRESS)  # a torchrun process of this script
    args = parser.parse_args()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)  # as train_student runs on the CPU
    try:
        if args.worker:
            _worker(args.batch, args.rounds, args.worker)
            return 0
        numerics.check()
        load = os.getloadavg()[0]
        table = run(args.batch, args.rounds, args.processes)
    finally:
        torch.use_deterministic_algorithms(deterministic)
    counts = ", ".join(str(count) for count in args.processes)
    header = (
        f"One gathered-batch training step of the embedded student (ToMCLIP, global batch {args.batch}) with "
        f"{counts} processes (gloo), measured {datetime.date.today().isoformat()} on an {numerics.cpu_model()} with "
        f"{len(os.sched_getaffinity(0))} cores, torch {torch.__version__}, load average {load:.1f} "
        f"before the run; fastest of {args.rounds} rounds on rank 0, ms (benchmarks/bench_distributed.py). "
        "With 1 process the step is the single-process one (no gather). The GPU measurements of issue 13 (the n = 1024 topology loss on the CUDA path, one DDP step of "
        "xlm-roberta-large at batch 256) are not here: no GPU was available."
    )
    report.save_table(table, "distributed_cpu", "benchmarks", floatfmt=".2f", caption=header)
    print(header)
    print(report.markdown_table(table, floatfmt=".2f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
