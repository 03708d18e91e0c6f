"""Distillation training: the student learns the teacher's embedding of each caption's English version.

One function, `train_student`, for every variant (MCLIP, ToMCLIP(dm), ToMCLIP(ta), ToMCLIP, ...),
both settings (full, low-resource) and both profiles. It is resumable and deterministic on the
CPU: every epoch ends with an atomic checkpoint (model, optimiser, scheduler, RNG states,
early-stopping state, log position), and the batches of epoch e depend only on (seed, e), so
a run killed with kill -9 and started again ends exactly where an uninterrupted one does.

Batches are drawn as the paper's are: no two rows of a batch share an English caption (the
corpus holds one pair per language of each caption, so a shuffled batch would hold duplicate
teacher points, and the topological terms would see a degenerate cloud); `epoch_batches` says how.
Validation batches are drawn the same way, once, with a fixed seed.

Under torchrun the same function trains on the global batch with N processes (distributed.py);
`run_grid` is the processes' entry point for a grid of runs:
    torchrun --nproc-per-node 8 -m tomclip_lib.train artifacts/paper/students/grid.pt
(notebook 03 writes that file and starts torchrun itself when its `processes` is above 1; see
docs/training-at-scale.md). With one process the distributed code is never reached.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from . import distributed, numerics
from .errors import TomclipError
from .io import atomic_path, write_json
from .models.student import CachedTokenStates, Student, StudentConfig
from .topology import PAPER_VARIANTS, AlignmentLoss

#: The paper's four models, and two more objectives on the same edges as baselines: ToMA (align the
#: directions of H0-death and H1-birth edges; student and teacher batches are index-paired) and
#: the topological autoencoder's distance matching. Both at the paper's 0.01 for a topological term.
VARIANTS: dict[str, dict[str, float]] = {
    **PAPER_VARIANTS,
    "ToMA": {"pointwise": 1.0, "toma": 0.01},
    "Topo-AE": {"pointwise": 1.0, "topo_ae": 0.01},
}
CHECKPOINT, BEST, METRICS, LOG = "checkpoint.pt", "best.pt", "metrics.json", "log.jsonl"
LR_SCHEDULES = ("constant", "cosine")
GRID = "grid.pt"  # a grid of runs for the processes of torchrun (write_grid, run_grid)
#: Part of every run's cache key: changes whenever the same configuration would train differently
#: (2: batches of distinct English captions, validation batches drawn alike, the term balance logged;
#: 3: the balance measured on the largest validation batch, the backbone's own learning rate).
TRAINING_VERSION = 3
VALIDATION_SEED = 0  # the validation batches: the same for every run and epoch


@dataclass(frozen=True)
class TrainConfig:
    variant: str = "ToMCLIP"
    weights: dict[str, float] = field(default_factory=dict)  # overrides VARIANTS[variant]
    setting: str = "full"  # "full" or "low" (low-resource), for bookkeeping
    lr: float = 1e-3  # the paper's 1e-5 fine-tunes all of XLM-R; a head alone needs more
    backbone_lr: float | None = None  # the backbone layers' learning rate when they train; None: lr
    weight_decay: float = 0.01
    batch_size: int = 256
    max_epochs: int = 30
    warmup_steps: int = 100  # linear warm-up, then constant (as the reference)
    lr_schedule: str = "constant"  # after the warm-up: "constant" (the reference) or "cosine" (to 0 at max_epochs)
    patience: int | None = 5  # epochs without a better validation loss before stopping; None: a fixed epoch count
    seed: int = 0
    sparsify: float | None = 0.5  # s of the topological terms
    mode: str = "exact"  # L_ta: "exact", "reference" or "diagram"
    device: str = "auto"
    amp: bool = True  # bfloat16 autocast on CUDA (the topological terms run in float32)

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise TomclipError(f"Unknown variant {self.variant!r}; choose one of {', '.join(VARIANTS)}.")
        if self.setting not in ("full", "low"):
            raise TomclipError(f"Unknown setting {self.setting!r}; use 'full' or 'low'.")
        if self.lr_schedule not in LR_SCHEDULES:
            raise TomclipError(f"Unknown lr_schedule {self.lr_schedule!r}; use one of {', '.join(LR_SCHEDULES)}.")
        if self.batch_size < 2:
            raise TomclipError(f"batch_size must be at least 2 (topology needs pairs), got {self.batch_size}.")

    @property
    def loss_weights(self) -> dict[str, float]:
        return {**VARIANTS[self.variant], **self.weights}

    def key(self, *extra: str) -> str:
        """A short hash of everything that changes the result (plus data or model fingerprints). The
        constant schedule is left out, so runs cached before the schedule could change keep their keys."""
        fields = asdict(self)
        if fields["lr_schedule"] == "constant":
            del fields["lr_schedule"]
        payload = json.dumps([fields, *extra], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass
class DistillationSplit:
    """Student inputs (pooled features, cached token states of the frozen layers, or texts) and
    teacher targets. `groups[i]` names row i's English caption (rows of one group share their
    target); None when every row has its own."""

    inputs: torch.Tensor | list[str] | CachedTokenStates
    targets: torch.Tensor  # (N, D) float32
    groups: torch.Tensor | None = None  # (N,) int64

    def __post_init__(self):
        if len(self.inputs) != len(self.targets):
            raise TomclipError(f"{len(self.inputs)} student inputs but {len(self.targets)} teacher targets.")
        if len(self.inputs) == 0:
            raise TomclipError("An empty training or validation split: check the corpus and the setting.")
        if self.groups is None:
            self.groups = torch.arange(len(self.targets))
        self.groups = torch.as_tensor(self.groups, dtype=torch.int64)
        if self.groups.shape != (len(self.targets),):
            raise TomclipError(
                f"groups must name one English caption per row: {len(self.targets)} rows, "
                f"groups of shape {tuple(self.groups.shape)}."
            )

    def __len__(self) -> int:
        return len(self.targets)

    def batch(self, rows: torch.Tensor):
        if isinstance(self.inputs, torch.Tensor):
            inputs = self.inputs[rows]
        elif isinstance(self.inputs, CachedTokenStates):
            inputs = self.inputs.select(rows)
        else:
            inputs = [self.inputs[i] for i in rows.tolist()]
        return inputs, self.targets[rows]


def lr_factor(config: TrainConfig, steps: int, step: int) -> float:
    """The learning rate at `step` as a fraction of config.lr: a linear warm-up, then constant (the
    reference's) or a cosine decay that reaches 0 after `steps` (a run trained to convergence: a
    constant rate leaves the validation loss wandering, and early stopping then ends it early).
    Python's math, not torch's: one scalar per step, the same bits on every CPU."""
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    if config.lr_schedule == "constant" or step < config.warmup_steps:
        return warm
    progress = min(1.0, (step - config.warmup_steps) / max(1, steps - config.warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def epoch_batches(groups: torch.Tensor, batch_size: int, seed: int, epoch: int) -> list[torch.Tensor]:
    """The batches of one epoch: every row once, no two rows of a batch from the same group.

    Each group's rows are put in a random order; round r holds the r-th row of every group that
    has one, its groups in a random order, cut into ceil(m / batch_size) batches of nearly equal
    size (so a batch never straddles two rounds); the batches of all rounds are then shuffled. A
    group's languages thus reach the batches in a new order every epoch, and each batch mixes
    languages. A batch of a single row is dropped (it needs two points): a round of one row, in
    the low-resource setting at most one pair per epoch and a different one each epoch (or, with
    batch_size 2, the odd row of a round). Everything is a
    function of (seed, epoch), so resuming repeats it.
    """
    generator = torch.Generator().manual_seed(_seed("batches", seed, epoch))
    shuffled = torch.randperm(len(groups), generator=generator)
    labels = torch.unique(groups, return_inverse=True)[1][shuffled]
    group_order = torch.randperm(int(labels.max()) + 1, generator=generator)
    by_group = torch.sort(labels, stable=True).indices  # shuffled rows, grouped, random order within
    sorted_labels = labels[by_group]
    starts = torch.searchsorted(sorted_labels, sorted_labels, right=False)
    rank = torch.empty_like(labels)
    rank[by_group] = torch.arange(len(labels)) - starts  # each row's position within its group
    batches = []
    for round_ in range(int(rank.max()) + 1):
        members = torch.nonzero(rank == round_).flatten()
        members = members[torch.argsort(group_order[labels[members]])]
        pieces = torch.tensor_split(shuffled[members], -(-len(members) // batch_size)) if len(members) else ()
        batches += [piece for piece in pieces if len(piece) >= 2]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def validation_batches(split: DistillationSplit, batch_size: int) -> list[torch.Tensor]:
    """The validation batches: drawn like training ones, with a fixed seed, for every run and epoch."""
    return epoch_batches(split.groups, batch_size, VALIDATION_SEED, 0)


@dataclass
class TrainResult:
    run_dir: Path
    best_validation: float
    best_epoch: int
    epochs: int
    seconds: float


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _rng_state() -> dict:
    return {"torch": torch.random.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def _set_rng_state(state: dict) -> None:
    torch.random.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def _seed(*parts) -> int:
    """A generator seed from labelled parts, e.g. ("dropout", seed, epoch, rank): distinct parts, distinct seeds."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little") >> 1


def _truncate_log(path: Path, steps: int) -> None:
    """Keep the first `steps` lines of the step log (those before the checkpoint)."""
    if path.exists():
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)[:steps]
        with atomic_path(path) as tmp:
            tmp.write_text("".join(lines), encoding="utf-8")


def _autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def evaluate_loss(
    student: Student, loss_fn: AlignmentLoss, split: DistillationSplit, batch_size: int, device: torch.device, amp: bool
) -> dict[str, float]:
    """Mean weighted loss and components over a split's validation batches (the early-stopping signal)."""
    student.eval()
    totals, count = {}, 0
    with torch.no_grad():
        for rows in validation_batches(split, batch_size):
            inputs, targets = split.batch(rows)
            with _autocast(device, amp):
                outputs = student(inputs.to(device) if isinstance(inputs, torch.Tensor) else inputs)
            total, terms = loss_fn(outputs.float(), targets.to(device))
            for name, value in {"total": total, **terms}.items():
                totals[name] = totals.get(name, 0.0) + float(value) * len(rows)
            count += len(rows)
    student.train()
    return {name: value / count for name, value in totals.items()}


def term_balance(
    student: Student,
    loss_fn: AlignmentLoss,
    split: DistillationSplit,
    rows: torch.Tensor,
    device: torch.device,
    amp: bool,
) -> dict[str, dict[str, float]]:
    """Each weighted term's share of the loss and of the gradient norm on one batch: what a weight
    means depends on the terms' scales (the point-wise MSE scales with the targets' squared norm,
    the topological terms do not), so the shares, not the weights, say how a run is balanced.

    Per term w * L: "loss" = w L / sum of the w L; "gradient" = |grad(w L)| / sum of the |grad(w L)|,
    over the trainable parameters. Computed in eval mode (no dropout) with the loss's random draws
    forked, so it never changes the training it observes.
    """
    parameters = [p for p in student.parameters() if p.requires_grad]
    was_training = student.training
    student.eval()
    try:
        with torch.random.fork_rng(devices=[]):
            inputs, targets = split.batch(rows)
            with _autocast(device, amp):
                outputs = student(_on_device(inputs, device))
            weighted = {}
            for name, weight in loss_fn.weights.items():
                if weight:  # a copy of the loss with this term alone: its value keeps its gradient
                    single = copy.copy(loss_fn)
                    single.weights = {other: weight if other == name else 0.0 for other in loss_fn.weights}
                    weighted[name] = single(outputs.float(), targets.to(device))[0]
            norms = {}
            for index, (name, value) in enumerate(weighted.items()):
                grads = torch.autograd.grad(
                    value, parameters, retain_graph=index < len(weighted) - 1, allow_unused=True
                )
                norms[name] = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads if g is not None)))
    finally:
        student.train(was_training)
    losses = {name: float(value.detach()) for name, value in weighted.items()}
    loss_total, norm_total = sum(losses.values()), sum(norms.values())
    return {
        name: {
            "loss": losses[name] / loss_total if loss_total else 0.0,
            "gradient": norms[name] / norm_total if norm_total else 0.0,
            "gradient_norm": norms[name],
        }
        for name in weighted
    }


def _on_device(inputs, device: torch.device):
    return inputs.to(device) if isinstance(inputs, torch.Tensor) else inputs


def _global_batch_loss(
    model: torch.nn.Module,
    loss_fn: AlignmentLoss,
    split: DistillationSplit,
    rows: torch.Tensor,
    ranks: distributed.Ranks,
    device: torch.device,
    amp: bool,
    loss_seed: int,
):
    """The loss of the whole batch `rows`, from this rank's slice of it (distributed.py says why its
    gradient is one process's). The loss's own random draws (L_ta's "reference" projections) come
    from a generator seeded per step, so every rank draws the same ones whatever its dropout drew."""
    local, counts = distributed.shard(rows, ranks)
    inputs, _ = split.batch(local)
    with _autocast(device, amp):
        outputs = model(_on_device(inputs, device))
    gathered = distributed.gather_rows(outputs, counts).float()
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(loss_seed)
        return loss_fn(gathered, split.targets[rows].to(device))


def _evaluate_loss_over_ranks(
    student: Student,
    loss_fn: AlignmentLoss,
    split: DistillationSplit,
    batch_size: int,
    device: torch.device,
    amp: bool,
    ranks: distributed.Ranks,
    seed: int,
) -> dict[str, float]:
    """evaluate_loss with batch i computed by rank i mod N: the same batches, and the same sums in the
    same order, so every rank gets the same value (and stops at the same epoch). Each batch's random
    draws are seeded by (seed, i), whatever the number of processes."""
    batches = validation_batches(split, batch_size)
    names = ["total", *(name for name, weight in loss_fn.weights.items() if weight)]
    values = torch.zeros(len(batches), len(names), dtype=torch.float64, device=device)
    student.eval()
    with torch.no_grad():
        for index in range(ranks.rank, len(batches), ranks.size):
            rows = batches[index]
            inputs, targets = split.batch(rows)
            with _autocast(device, amp):
                outputs = student(_on_device(inputs, device))
            with torch.random.fork_rng(devices=[]):
                torch.random.default_generator.manual_seed(_seed("validation", seed, index))
                total, terms = loss_fn(outputs.float(), targets.to(device))
            values[index] = torch.tensor(
                [float(value) for value in (total, *(terms[n] for n in names[1:]))], dtype=torch.float64
            )
    student.train()
    distributed.sum_over_ranks(values)
    totals, count = {}, 0
    for index, rows in enumerate(batches):
        size = len(rows)
        for name, value in zip(names, values[index].tolist()):
            totals[name] = totals.get(name, 0.0) + value * size
        count += size
    return {name: value / count for name, value in totals.items()}


def train_student(
    config: TrainConfig,
    student: Student,
    train: DistillationSplit,
    validation: DistillationSplit,
    run_dir: str | Path,
    on_epoch_end: Callable[[dict], None] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train (or resume, or just load) one student run in `run_dir`; the best epoch's weights win
    (with patience None every epoch runs and the last one's weights are kept: a fixed epoch count,
    which early stopping cannot make differ between two objectives).

    The folder holds config.json, log.jsonl (one line per step: every loss component),
    checkpoint.pt (after every epoch), and, when done, best.pt and metrics.json. Calling again
    on a finished folder loads best.pt; on an interrupted one, it resumes from checkpoint.pt.

    Under torchrun (an initialised process group of N > 1) every batch is the global batch of
    config.batch_size pairs, each rank encoding batch_size / N of them; rank 0 writes the files,
    every rank resumes from its checkpoint, and all stop at the same epoch.
    """
    ranks = distributed.current()
    if ranks is not None:
        distributed.check_batch_size(config.batch_size, ranks.size)
    writes = ranks is None or ranks.leader
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if (run_dir / METRICS).exists():
        student.load_trainable_state(torch.load(run_dir / BEST, weights_only=True))
        metrics = json.loads((run_dir / METRICS).read_text())
        return TrainResult(
            run_dir, metrics["best_validation"], metrics["best_epoch"], metrics["epochs"], metrics["seconds"]
        )
    if writes:
        write_json(run_dir / "config.json", asdict(config))
    numerics.check()

    device = pick_device(config.device)
    if ranks is not None and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())  # this rank's GPU (LOCAL_RANK)
    deterministic = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    torch.manual_seed(config.seed)
    student.to(device).train()
    loss_fn = AlignmentLoss(**config.loss_weights, sparsify=config.sparsify, mode=config.mode)
    backbone = [p for name, p in student.named_parameters() if p.requires_grad and name.startswith("backbone.")]
    head = [p for name, p in student.named_parameters() if p.requires_grad and not name.startswith("backbone.")]
    groups = [{"params": head}] + (
        [{"params": backbone, "lr": config.lr if config.backbone_lr is None else config.backbone_lr}]
        if backbone
        else []
    )
    # fused: PyTorch's own AdamW kernel; the unfused one takes its square root from MKL's vector math,
    # whose bits differ between Intel and AMD processors (topology/stable.py).
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    # Only the cosine schedule needs the run's length (an epoch's batches, drawn once more here).
    cosine = config.lr_schedule == "cosine"
    steps = config.max_epochs * len(epoch_batches(train.groups, config.batch_size, config.seed, 0)) if cosine else 0
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, functools.partial(lr_factor, config, steps))
    state = {"epoch": 0, "step": 0, "best": float("inf"), "best_epoch": 0, "bad_epochs": 0, "seconds": 0.0}
    best_state = student.trainable_state()
    # The balance is measured on the largest validation batch (the first of them): a late round of a few
    # captions keeps a single edge (topology/distances.py), whose terms have no gradient.
    probe = max(validation_batches(validation, config.batch_size), key=len)
    state["balance_start"] = state["balance_best"] = term_balance(
        student, loss_fn, validation, probe, device, config.amp
    )

    if (run_dir / CHECKPOINT).exists():
        checkpoint = torch.load(run_dir / CHECKPOINT, weights_only=False)
        student.load_trainable_state(checkpoint["student"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        best_state, state = checkpoint["best_state"], checkpoint["state"]
        if ranks is None:
            _set_rng_state(checkpoint["rng"])
        if writes:
            _truncate_log(run_dir / LOG, state["step"])
    model = student
    if ranks is not None:
        # Built after the checkpoint is loaded: DDP starts by copying rank 0's parameters to every rank.
        model = DistributedDataParallel(student, device_ids=[device.index] if device.type == "cuda" else None)

    epochs = tqdm(
        range(state["epoch"], config.max_epochs),
        initial=state["epoch"],
        total=config.max_epochs,
        desc=f"{config.variant} ({config.setting}, seed {config.seed})",
        disable=not (progress and writes),
        leave=False,
    )
    try:
        for epoch in epochs:
            if config.patience is not None and state["bad_epochs"] >= config.patience:
                break
            start = time.perf_counter()
            lines = []
            if (
                ranks is not None
            ):  # each rank's dropout draws: a function of (seed, epoch, rank), so resuming repeats them
                torch.manual_seed(_seed("dropout", config.seed, epoch, ranks.rank))
            for rows in epoch_batches(train.groups, config.batch_size, config.seed, epoch):
                if ranks is None:
                    inputs, targets = train.batch(rows)
                    with _autocast(device, config.amp):
                        outputs = student(inputs.to(device) if isinstance(inputs, torch.Tensor) else inputs)
                    total, terms = loss_fn(outputs.float(), targets.to(device))
                else:
                    total, terms = _global_batch_loss(
                        model,
                        loss_fn,
                        train,
                        rows,
                        ranks,
                        device,
                        config.amp,
                        _seed("loss", config.seed, state["step"]),
                    )
                optimizer.zero_grad(set_to_none=True)
                total.backward()
                optimizer.step()
                scheduler.step()
                state["step"] += 1
                lines.append(
                    json.dumps(
                        {
                            "epoch": epoch + 1,
                            "step": state["step"],
                            "lr": scheduler.get_last_lr()[0],
                            "total": float(total.detach()),
                            **{k: float(v) for k, v in terms.items()},
                        }
                    )
                )
            if ranks is None:
                scores = evaluate_loss(student, loss_fn, validation, config.batch_size, device, config.amp)
            else:
                scores = _evaluate_loss_over_ranks(
                    student,
                    loss_fn,
                    validation,
                    config.batch_size,
                    device,
                    config.amp,
                    ranks,
                    _seed("validation", config.seed, epoch),
                )
            state["epoch"] = epoch + 1
            state["seconds"] += time.perf_counter() - start
            if scores["total"] < state["best"] or config.patience is None:  # None: the last epoch is kept
                state.update(
                    best=scores["total"],
                    best_epoch=epoch + 1,
                    bad_epochs=0,
                    balance_best=term_balance(student, loss_fn, validation, probe, device, config.amp),
                )
                best_state = student.trainable_state()
            else:
                state["bad_epochs"] += 1
            if writes:
                with open(run_dir / LOG, "a", encoding="utf-8") as handle:
                    handle.write("".join(line + "\n" for line in lines))
                with atomic_path(run_dir / CHECKPOINT) as tmp:
                    torch.save(
                        {
                            "student": student.trainable_state(),
                            "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(),
                            "best_state": best_state,
                            "state": state,
                            "rng": _rng_state(),
                        },
                        tmp,
                    )
            if ranks is not None:
                distributed.barrier()  # the checkpoint is whole before any rank goes on
            epochs.set_postfix(validation=f"{scores['total']:.5f}")
            if on_epoch_end is not None:
                on_epoch_end({"epoch": epoch + 1, "validation": scores, **state})
    finally:
        if device.type == "cpu":
            torch.use_deterministic_algorithms(deterministic)

    student.load_trainable_state(best_state)
    if writes:
        with atomic_path(run_dir / BEST) as tmp:
            torch.save(best_state, tmp)
        processes = {} if ranks is None else {"processes": ranks.size}
        write_json(
            run_dir / METRICS,
            {
                "best_validation": state["best"],
                "best_epoch": state["best_epoch"],
                "epochs": state["epoch"],
                "steps": state["step"],
                "seconds": state["seconds"],
                "balance_start": state["balance_start"],
                "balance_best": state["balance_best"],
                **processes,
            },
        )
        (run_dir / CHECKPOINT).unlink(missing_ok=True)
    if ranks is not None:
        distributed.barrier()
    return TrainResult(run_dir, state["best"], state["best_epoch"], state["epoch"], state["seconds"])


def read_log(run_dir: str | Path) -> list[dict]:
    """The per-step log of a run: one dict per step with every loss component."""
    path = Path(run_dir) / LOG
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def write_grid(
    path: str | Path,
    runs: list[tuple[TrainConfig, StudentConfig, Path, str]],
    data: dict[str, tuple[DistillationSplit, DistillationSplit]],
) -> Path:
    """Write what every process of a grid needs (run_grid): each run's training and student
    configuration, folder and the name of its data; the training and validation pairs by name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = {
        "runs": [
            {"config": asdict(config), "student": asdict(student), "run_dir": str(folder), "data": name}
            for config, student, folder, name in runs
        ],
        "data": {
            name: [
                {"inputs": _storable(split.inputs), "targets": split.targets, "groups": split.groups}
                for split in splits
            ]
            for name, splits in data.items()
        },
    }
    with atomic_path(path) as tmp:
        torch.save(grid, tmp)
    return path


def _storable(inputs):
    """Inputs as tensors and strings only (the grid file is read with weights_only=True)."""
    return {"token_states": inputs.to_dict()} if isinstance(inputs, CachedTokenStates) else inputs


def _restored(inputs):
    return CachedTokenStates.from_dict(inputs["token_states"]) if isinstance(inputs, dict) else inputs


def run_grid(path: str | Path) -> None:
    """Each torchrun process: join the process group, then train (or resume, or load) every run of
    the grid file in turn; rank 0 prints one JSON line per run."""
    ranks = distributed.init_from_environment()
    try:
        grid = torch.load(path, weights_only=True, mmap=True)  # mmap: the processes of a node share the pages
        data = {
            name: [DistillationSplit(_restored(split["inputs"]), split["targets"], split["groups"]) for split in splits]
            for name, splits in grid["data"].items()
        }
        for run in grid["runs"]:
            config = TrainConfig(**run["config"])
            result = train_student(
                config,
                Student(StudentConfig(**run["student"]), seed=config.seed),
                *data[run["data"]],
                run["run_dir"],
                progress=False,
            )
            if ranks is None or ranks.leader:
                print(
                    json.dumps(
                        {
                            "run_dir": run["run_dir"],
                            "best_validation": result.best_validation,
                            "best_epoch": result.best_epoch,
                            "epochs": result.epochs,
                        }
                    ),
                    flush=True,
                )
    finally:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: torchrun [torchrun options] -m tomclip_lib.train GRID_FILE  (docs/training-at-scale.md)")
    run_grid(sys.argv[1])
