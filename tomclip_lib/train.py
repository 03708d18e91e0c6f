"""Distillation training: the student learns the teacher's embedding of each caption's English version.

One function, `train_student`, for every variant (MCLIP, ToMCLIP(dm), ToMCLIP(ta), ToMCLIP, ...),
both settings (full, low-resource) and both profiles. It is resumable and deterministic on the
CPU: every epoch ends with an atomic checkpoint (model, optimiser, scheduler, RNG states,
early-stopping state, log position), and the data order of epoch e depends only on (seed, e), so
a run killed with kill -9 and started again ends exactly where an uninterrupted one does. It keeps
no global state and the loss takes the batch it is given, so it can later run under torchrun.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from . import numerics
from .errors import TomclipError
from .io import atomic_path, write_json
from .models.student import Student
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


@dataclass(frozen=True)
class TrainConfig:
    variant: str = "ToMCLIP"
    weights: dict[str, float] = field(default_factory=dict)  # overrides VARIANTS[variant]
    setting: str = "full"  # "full" or "low" (low-resource), for bookkeeping
    lr: float = 1e-3  # the paper's 1e-5 fine-tunes all of XLM-R; a head alone needs more
    weight_decay: float = 0.01
    batch_size: int = 256
    max_epochs: int = 30
    warmup_steps: int = 100  # linear warm-up, then constant (as the reference)
    patience: int = 5  # epochs without a better validation loss before stopping
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
        if self.batch_size < 2:
            raise TomclipError(f"batch_size must be at least 2 (topology needs pairs), got {self.batch_size}.")

    @property
    def loss_weights(self) -> dict[str, float]:
        return {**VARIANTS[self.variant], **self.weights}

    def key(self, *extra: str) -> str:
        """A short hash of everything that changes the result (plus data or model fingerprints)."""
        payload = json.dumps([asdict(self), *extra], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass
class DistillationSplit:
    """Student inputs (pooled features, or texts when the backbone trains) and teacher targets."""

    inputs: torch.Tensor | list[str]
    targets: torch.Tensor  # (N, D) float32

    def __post_init__(self):
        if len(self.inputs) != len(self.targets):
            raise TomclipError(f"{len(self.inputs)} student inputs but {len(self.targets)} teacher targets.")
        if len(self.inputs) == 0:
            raise TomclipError("An empty training or validation split: check the corpus and the setting.")

    def __len__(self) -> int:
        return len(self.targets)

    def batch(self, rows: torch.Tensor):
        inputs = self.inputs[rows] if isinstance(self.inputs, torch.Tensor) else [self.inputs[i] for i in rows.tolist()]
        return inputs, self.targets[rows]


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


def _epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The data order of one epoch: a function of (seed, epoch) only, so resuming repeats it."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


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


def evaluate_loss(student: Student, loss_fn: AlignmentLoss, split: DistillationSplit, batch_size: int,
                  device: torch.device, amp: bool) -> dict[str, float]:
    """Mean weighted loss and components over a split, in fixed order (the early-stopping signal)."""
    student.eval()
    totals, count = {}, 0
    with torch.no_grad():
        for start in range(0, len(split), batch_size):
            rows = torch.arange(start, min(start + batch_size, len(split)))
            if len(rows) < 2:
                continue
            inputs, targets = split.batch(rows)
            with _autocast(device, amp):
                outputs = student(inputs.to(device) if isinstance(inputs, torch.Tensor) else inputs)
            total, terms = loss_fn(outputs.float(), targets.to(device))
            for name, value in {"total": total, **terms}.items():
                totals[name] = totals.get(name, 0.0) + float(value) * len(rows)
            count += len(rows)
    student.train()
    return {name: value / count for name, value in totals.items()}


def train_student(config: TrainConfig, student: Student, train: DistillationSplit,
                  validation: DistillationSplit, run_dir: str | Path,
                  on_epoch_end: Callable[[dict], None] | None = None, progress: bool = True) -> TrainResult:
    """Train (or resume, or just load) one student run in `run_dir`; the best epoch's weights win.

    The folder holds config.json, log.jsonl (one line per step: every loss component),
    checkpoint.pt (after every epoch), and, when done, best.pt and metrics.json. Calling again
    on a finished folder loads best.pt; on an interrupted one, it resumes from checkpoint.pt.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if (run_dir / METRICS).exists():
        student.load_trainable_state(torch.load(run_dir / BEST, weights_only=True))
        metrics = json.loads((run_dir / METRICS).read_text())
        return TrainResult(run_dir, metrics["best_validation"], metrics["best_epoch"], metrics["epochs"], metrics["seconds"])
    write_json(run_dir / "config.json", asdict(config))
    numerics.check()

    device = pick_device(config.device)
    deterministic = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    torch.manual_seed(config.seed)
    student.to(device).train()
    loss_fn = AlignmentLoss(**config.loss_weights, sparsify=config.sparsify, mode=config.mode)
    parameters = [p for p in student.parameters() if p.requires_grad]
    # fused: PyTorch's own AdamW kernel; the unfused one takes its square root from MKL's vector math,
    # whose bits differ between Intel and AMD processors (topology/stable.py).
    optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / max(1, config.warmup_steps)))
    state = {"epoch": 0, "step": 0, "best": float("inf"), "best_epoch": 0, "bad_epochs": 0, "seconds": 0.0}
    best_state = student.trainable_state()

    if (run_dir / CHECKPOINT).exists():
        checkpoint = torch.load(run_dir / CHECKPOINT, weights_only=False)
        student.load_trainable_state(checkpoint["student"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        best_state, state = checkpoint["best_state"], checkpoint["state"]
        _set_rng_state(checkpoint["rng"])
        _truncate_log(run_dir / LOG, state["step"])

    epochs = tqdm(range(state["epoch"], config.max_epochs), initial=state["epoch"], total=config.max_epochs,
                  desc=f"{config.variant} ({config.setting}, seed {config.seed})", disable=not progress, leave=False)
    try:
        for epoch in epochs:
            if state["bad_epochs"] >= config.patience:
                break
            start = time.perf_counter()
            lines = []
            order = _epoch_order(len(train), config.seed, epoch)
            for rows in order.split(config.batch_size):
                if len(rows) < 2:
                    continue
                inputs, targets = train.batch(rows)
                with _autocast(device, config.amp):
                    outputs = student(inputs.to(device) if isinstance(inputs, torch.Tensor) else inputs)
                total, terms = loss_fn(outputs.float(), targets.to(device))
                optimizer.zero_grad(set_to_none=True)
                total.backward()
                optimizer.step()
                scheduler.step()
                state["step"] += 1
                lines.append(json.dumps({"epoch": epoch + 1, "step": state["step"], "lr": scheduler.get_last_lr()[0],
                                         "total": float(total.detach()), **{k: float(v) for k, v in terms.items()}}))
            scores = evaluate_loss(student, loss_fn, validation, config.batch_size, device, config.amp)
            state["epoch"] = epoch + 1
            state["seconds"] += time.perf_counter() - start
            if scores["total"] < state["best"]:
                state.update(best=scores["total"], best_epoch=epoch + 1, bad_epochs=0)
                best_state = student.trainable_state()
            else:
                state["bad_epochs"] += 1
            with open(run_dir / LOG, "a", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in lines))
            with atomic_path(run_dir / CHECKPOINT) as tmp:
                torch.save({"student": student.trainable_state(), "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(), "best_state": best_state, "state": state,
                            "rng": _rng_state()}, tmp)
            epochs.set_postfix(validation=f"{scores['total']:.5f}")
            if on_epoch_end is not None:
                on_epoch_end({"epoch": epoch + 1, "validation": scores, **state})
    finally:
        if device.type == "cpu":
            torch.use_deterministic_algorithms(deterministic)

    student.load_trainable_state(best_state)
    with atomic_path(run_dir / BEST) as tmp:
        torch.save(best_state, tmp)
    write_json(run_dir / METRICS, {"best_validation": state["best"], "best_epoch": state["best_epoch"],
                                   "epochs": state["epoch"], "steps": state["step"], "seconds": state["seconds"]})
    (run_dir / CHECKPOINT).unlink(missing_ok=True)
    return TrainResult(run_dir, state["best"], state["best_epoch"], state["epoch"], state["seconds"])


def read_log(run_dir: str | Path) -> list[dict]:
    """The per-step log of a run: one dict per step with every loss component."""
    path = Path(run_dir) / LOG
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
