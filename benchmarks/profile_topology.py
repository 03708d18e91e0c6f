"""Profile: where the time of one topology training step goes, per op, at n = 256 (issue 15).

    .venv/bin/python benchmarks/profile_topology.py [--n 256] [--dim 512] [--steps 30]

The step is bench_topology's: forward + backward of `AlignmentLoss(pointwise=0, distance_matrix=0.01,
topology_h0=0.01)` (mode "exact") between a student batch with gradient and a teacher batch without,
L2-normalised Gaussian points, float32; the floor (cdist of both batches, backward of the
student's) is profiled alike for comparison. torch.profiler's self CPU time per op, averaged over
the steps after a warm-up; writes results/benchmarks/topology_profile_n<n>.md. Timings are noisy on
a shared machine: compare shares within one run, not across runs.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tomclip_lib.io import write_text  # noqa: E402
from tomclip_lib.topology import AlignmentLoss  # noqa: E402


def profiled(step, steps: int):
    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    return prof.key_averages()


def by_function(step, steps: int) -> str:
    """Tensor operations dispatched per step, grouped by the innermost Python function of the project (or
    torch's autograd engine) that called them: the fixed, size-independent cost of a step is roughly
    their count times the per-op dispatch cost (a few microseconds each on the CPU)."""
    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU], with_stack=True) as prof:
        for _ in range(steps):
            step()
    counts: dict[str, list[float]] = {}
    for event in prof.events():
        parent = event.cpu_parent
        if not event.name.startswith("aten::") or parent is None or parent.name.startswith("aten::"):
            continue
        chain, caller = parent, None
        while chain is not None:
            if "tomclip_lib" in chain.name or "benchmarks" in chain.name:
                caller = chain.name.split("/")[-1]
                break
            chain = chain.cpu_parent
        if caller is None:
            caller = "autograd engine (backward of built-in ops)" if "backward" in parent.name else parent.name[:60]
        entry = counts.setdefault(caller, [0, 0.0])
        entry[0] += 1
        entry[1] += event.cpu_time_total
    rows = sorted(counts.items(), key=lambda item: item[1][0], reverse=True)
    total = sum(count for _, (count, _) in rows)
    lines = [
        f"Top-level tensor operations per step: {total / steps:g}.",
        "",
        "| called from | ops / step | ms / step (incl. children, profiler-inflated) |",
        "|---|---:|---:|",
    ]
    lines += [f"| `{name}` | {count / steps:g} | {ms / steps / 1000:.3f} |" for name, (count, ms) in rows[:25]]
    return "\n".join(lines)


def table(averages, steps: int, top: int) -> tuple[str, float]:
    rows = sorted(averages, key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in rows) / steps / 1000
    lines = ["| op | calls / step | self ms / step | share |", "|---|---:|---:|---:|"]
    for event in rows[:top]:
        ms = event.self_cpu_time_total / steps / 1000
        lines.append(f"| `{event.key}` | {event.count / steps:g} | {ms:.3f} | {100 * ms / total:.1f}% |")
    return "\n".join(lines), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    torch.manual_seed(0)
    student = F.normalize(torch.randn(args.n, args.dim), dim=1).requires_grad_()
    teacher = F.normalize(torch.randn(args.n, args.dim), dim=1)
    loss_fn = AlignmentLoss(pointwise=0.0, distance_matrix=0.01, topology_h0=0.01)

    def step():
        loss_fn(student, teacher)[0].backward()

    def floor():
        distances = torch.cdist(student, student)
        torch.cdist(teacher, teacher)
        distances.sum().backward()

    ours, ours_total = table(profiled(step, args.steps), args.steps, args.top)
    base, base_total = table(profiled(floor, args.steps), args.steps, 10)
    grouped = by_function(step, 5)
    text = (
        f"# Topology step profile, n = {args.n}, d = {args.dim}\n\n"
        f"Measured {datetime.date.today().isoformat()} by benchmarks/profile_topology.py, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads, float32; torch.profiler self CPU time "
        f"averaged over {args.steps} steps (profiler overhead included: absolute times read high, "
        "shares are what count).\n\n"
        f"## AlignmentLoss(distance_matrix=0.01, topology_h0=0.01), forward + backward: {ours_total:.2f} ms / step\n\n"
        f"{ours}\n\n## Floor (cdist of both batches, backward of the student's): {base_total:.2f} ms / step\n\n"
        f"{base}\n\n## Where the dispatched operations come from (AlignmentLoss step)\n\n{grouped}\n"
    )
    write_text(ROOT / "results" / "benchmarks" / f"topology_profile_n{args.n}.md", text)
    print(text)


if __name__ == "__main__":
    main()
