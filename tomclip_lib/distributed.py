"""Training on several processes: torchrun starts them, each holds a slice of every global batch.

The paper's batch is the global batch. Each process encodes its slice, the slices are gathered
with their gradients (torch.distributed.nn.functional.all_gather), and every process computes the
same loss on the whole batch: a spanning tree, a distance matrix's maximum or a sparsification
quantile of half a batch is not that of the batch. Why the step then equals one process's: the
gather's backward sums, for each process's rows, the gradients that all N processes computed (N
identical ones, so N times the gradient), and DistributedDataParallel averages the parameters'
gradients over the N processes, dividing that factor away.

Collectives: NCCL on GPUs, gloo on CPUs. Nothing here runs when torch.distributed is not
initialised or has one process: `train_student` then takes its single-process path unchanged.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch.distributed.nn.functional import all_gather

from .errors import TomclipError

#: How long a process waits for the others at a collective before failing (a crashed peer, a hang).
TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes."""

    rank: int
    size: int

    @property
    def leader(self) -> bool:
        """Rank 0 writes the run's files (log, checkpoint, best weights, metrics)."""
        return self.rank == 0


def current() -> Ranks | None:
    """The process group this process trains in, or None for a single process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return None
    return Ranks(dist.get_rank(), dist.get_world_size())


def init_from_environment(timeout: timedelta = TIMEOUT) -> Ranks | None:
    """Join the process group that torchrun describes in the environment (RANK, WORLD_SIZE,
    MASTER_ADDR, LOCAL_RANK); NCCL with one GPU per process where there are GPUs, else gloo."""
    if "WORLD_SIZE" not in os.environ:
        raise TomclipError(
            "No torchrun environment (WORLD_SIZE is unset): start this under torchrun, "
            "e.g. torchrun --nproc-per-node 8 -m tomclip_lib.train GRID_FILE."
        )
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo", timeout=timeout)
    return current()


def check_batch_size(batch_size: int, processes: int) -> None:
    """Each process holds batch_size / processes pairs of a full batch: refuse a size that does not split."""
    if processes < 1:
        raise TomclipError(f"processes must be at least 1, got {processes}.")
    if batch_size % processes:
        raise TomclipError(
            f"batch_size {batch_size} does not split over {processes} processes: each process holds "
            f"batch_size / processes pairs of the global batch. Choose a batch_size that is a multiple "
            f"of {processes} (e.g. {processes * max(1, round(batch_size / processes))}) or another "
            "number of processes."
        )


def shard(rows: torch.Tensor, ranks: Ranks) -> tuple[torch.Tensor, list[int]]:
    """This rank's rows of a global batch, padded to a common length, and every rank's count of real rows.

    Rank r holds the r-th contiguous block of ceil(n / size) rows, so the gathered blocks are the
    batch in its order; a short last batch leaves the last blocks short or empty. Padding repeats
    the batch's first row: every rank runs the encoder on real inputs of one length, as the gather
    needs, and the padded outputs are dropped before the loss.
    """
    per_rank = -(-len(rows) // ranks.size)
    counts = [max(0, min(per_rank, len(rows) - r * per_rank)) for r in range(ranks.size)]
    start = ranks.rank * per_rank
    mine = rows[start : start + counts[ranks.rank]]
    return torch.cat([mine, rows[:1].repeat(per_rank - len(mine))]), counts


def gather_rows(local: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """The global batch's rows from every rank's block, in batch order, with their gradients."""
    blocks = all_gather(local)
    return torch.cat([block[:count] for block, count in zip(blocks, counts)])


def sum_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over ranks in place. Where each entry comes from one rank and is zero on the
    others the sum is exact (x + 0 = x), so every rank receives the same bits."""
    dist.all_reduce(values)
    return values


def barrier() -> None:
    dist.barrier()


def launch(module_args: list[str], processes: int) -> None:
    """Run `python -m MODULE ARGS...` as `processes` processes under torchrun on this machine.

    torchrun's own environment variables pass through, so the same call joins a multi-node run
    (PET_NNODES, PET_NODE_RANK, PET_RDZV_BACKEND, PET_RDZV_ENDPOINT); without PET_RDZV_ENDPOINT the
    run is standalone on this node.
    """
    if torch.cuda.is_available() and processes > torch.cuda.device_count():
        raise TomclipError(
            f"processes={processes}, but this machine has {torch.cuda.device_count()} GPU(s): "
            "one process per GPU. Set `processes` in params/<profile>.yaml (03_train) to at most that."
        )
    rendezvous = [] if "PET_RDZV_ENDPOINT" in os.environ else ["--standalone"]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        *rendezvous,
        "--nproc-per-node",
        str(processes),
        "-m",
        *module_args,
    ]
    # The processes' lines are passed on as they come (a run's progress), and the last ones kept for the error.
    tail = collections.deque(maxlen=60)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as process:
        for line in process.stdout:
            print(line, end="", flush=True)
            tail.append(line)
    if process.returncode:
        raise TomclipError(
            f"Training under torchrun failed (exit status {process.returncode}): "
            f"{' '.join(command)}\n{''.join(tail)[-4000:]}"
        )
