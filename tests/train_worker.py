"""A tiny but real distillation run, as a script, so a test can kill it with SIGKILL and restart it.

    python tests/train_worker.py RUN_DIR PAUSE_SECONDS [COMPARED_DIR]
prints the run's metrics as JSON when done. Under torchrun (python -m torch.distributed.run
--nproc-per-node 2 tests/train_worker.py ...) it trains KILLED with that many processes, and with
COMPARED_DIR it then trains, there, the runs that tests/test_distributed.py compares: an
uninterrupted KILLED run, and THREE_STEPS of each of DISTRIBUTED_VARIANTS (against one process).
Also imported by tests for the same tiny setup.
"""

import json
import os
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tomclip_lib import distributed  # noqa: E402
from tomclip_lib.models.student import Student, StudentConfig  # noqa: E402
from tomclip_lib.train import DistillationSplit, TrainConfig, train_student  # noqa: E402


class FeatureWidth(torch.nn.Module):
    """Stands in for a frozen backbone fed cached features: a student reads only its width. Sparing
    the import of transformers saves seconds in every process the distributed tests start."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.config = SimpleNamespace(hidden_size=hidden_size)


def tiny_student(seed: int = 0, trainable_layers=0, tokenizer=None, vocab_size: int = 64) -> Student:
    """A student on 16-d features (frozen) or a two-layer BERT that trains (trainable_layers > 0)."""
    config = StudentConfig(backbone="tiny-test-bert", out_dim=8, head_hidden=32, trainable_layers=trainable_layers)
    if config.frozen and tokenizer is None:  # the head is seeded by `seed` alone: the same as on a real backbone
        return Student(config, backbone=FeatureWidth(16), seed=seed)
    from transformers import BertConfig, BertModel

    torch.manual_seed(1234)
    bert = BertConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=96,
    )
    return Student(config, backbone=BertModel(bert, add_pooling_layer=False), tokenizer=tokenizer, seed=seed)


def tiny_data(n_train: int = 320, n_validation: int = 96, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    mapping = torch.randn(16, 8, generator=generator)

    def split(n):
        features = torch.randn(n, 16, generator=generator)
        targets = torch.nn.functional.normalize(torch.tanh(features @ mapping), dim=1)
        return DistillationSplit(features, targets)

    return split(n_train), split(n_validation)


CONFIG = TrainConfig(variant="ToMCLIP", batch_size=32, max_epochs=7, patience=100, lr=3e-3, warmup_steps=5)
#: One epoch of 37 pairs in batches of 16: three optimiser steps, the last on 5 pairs (3 + 2 over two processes).
THREE_STEPS = replace(CONFIG, batch_size=16, max_epochs=1)
THREE_STEPS_DATA = dict(n_train=37, n_validation=21)
DISTRIBUTED_VARIANTS = ["MCLIP", "ToMCLIP", "ToMA"]
#: The run that the two-process kill test kills after its first epoch: three epochs of 5 steps.
KILLED = replace(CONFIG, max_epochs=3)
KILLED_DATA = dict(n_train=160)


def run(run_dir: str, pause: float = 0.0, config: TrainConfig = CONFIG, **data):
    train, validation = tiny_data(**data)
    student = tiny_student()
    result = train_student(
        config,
        student,
        train,
        validation,
        run_dir,
        on_epoch_end=(lambda info: time.sleep(pause)) if pause else None,
        progress=False,
    )
    return result, student


def run_three_steps(run_dir: str, variant: str) -> None:
    train_student(
        replace(THREE_STEPS, variant=variant), tiny_student(), *tiny_data(**THREE_STEPS_DATA), run_dir, progress=False
    )


if __name__ == "__main__":
    # Under torchrun; the short timeout makes a lost peer fail the test instead of hanging it.
    ranks = distributed.init_from_environment(timeout=timedelta(seconds=60)) if "WORLD_SIZE" in os.environ else None
    setup = dict(config=KILLED, **KILLED_DATA) if ranks else {}
    result, _ = run(sys.argv[1], float(sys.argv[2]), **setup)
    print(
        json.dumps(
            {"best_validation": result.best_validation, "best_epoch": result.best_epoch, "epochs": result.epochs}
        )
    )
    if len(sys.argv) > 3:
        compared = Path(sys.argv[3])
        run(str(compared / "uninterrupted"), **setup)
        for variant in DISTRIBUTED_VARIANTS:
            run_three_steps(str(compared / variant), variant)
