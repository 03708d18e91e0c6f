"""A tiny but real distillation run, as a script, so a test can kill it with SIGKILL and restart it.

    python tests/train_worker.py RUN_DIR PAUSE_SECONDS
prints the run's metrics as JSON when done. Also imported by tests for the same tiny setup.
"""
import json
import sys
import time
from pathlib import Path

import torch
from transformers import BertConfig, BertModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tomclip_lib.models.student import Student, StudentConfig  # noqa: E402
from tomclip_lib.train import DistillationSplit, TrainConfig, train_student  # noqa: E402


def tiny_student(seed: int = 0, trainable_layers=0, tokenizer=None, vocab_size: int = 64) -> Student:
    torch.manual_seed(1234)
    config = BertConfig(vocab_size=vocab_size, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=96)
    backbone = BertModel(config, add_pooling_layer=False)
    return Student(StudentConfig(backbone="tiny-test-bert", out_dim=8, head_hidden=32, trainable_layers=trainable_layers),
                   backbone=backbone, tokenizer=tokenizer, seed=seed)


def tiny_data(n_train: int = 320, n_validation: int = 96, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    mapping = torch.randn(16, 8, generator=generator)

    def split(n):
        features = torch.randn(n, 16, generator=generator)
        targets = torch.nn.functional.normalize(torch.tanh(features @ mapping), dim=1)
        return DistillationSplit(features, targets)

    return split(n_train), split(n_validation)


CONFIG = TrainConfig(variant="ToMCLIP", batch_size=32, max_epochs=7, patience=100, lr=3e-3, warmup_steps=5)


def run(run_dir: str, pause: float = 0.0, config: TrainConfig = CONFIG):
    train, validation = tiny_data()
    student = tiny_student()
    result = train_student(config, student, train, validation, run_dir,
                           on_epoch_end=(lambda info: time.sleep(pause)) if pause else None, progress=False)
    return result, student


if __name__ == "__main__":
    result, _ = run(sys.argv[1], float(sys.argv[2]))
    print(json.dumps({"best_validation": result.best_validation, "best_epoch": result.best_epoch,
                      "epochs": result.epochs}))
