"""Training: convergence, logs, early stopping, determinism, and resuming after kill -9."""
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from train_worker import CONFIG, run, tiny_data, tiny_student
from tomclip_lib import train
from tomclip_lib.errors import TomclipError
from tomclip_lib.train import DistillationSplit, TrainConfig, train_student

WORKER = Path(__file__).parent / "train_worker.py"


def test_training_lowers_the_validation_loss_and_logs_every_step(tmp_path):
    train_split, validation = tiny_data()
    student = tiny_student()
    config = replace(CONFIG, max_epochs=4)
    loss_fn = train.AlignmentLoss(**config.loss_weights)
    before = train.evaluate_loss(student, loss_fn, validation, 32, torch.device("cpu"), False)["total"]
    result = train_student(config, student, train_split, validation, tmp_path, progress=False)
    assert result.best_validation < 0.5 * before
    log = train.read_log(tmp_path)
    assert len(log) == 4 * 10 and log[-1]["step"] == 40
    assert {"total", "pointwise", "distance_matrix", "topology_h0", "lr"} <= set(log[0])
    assert json.loads((tmp_path / "metrics.json").read_text())["epochs"] == 4
    assert (tmp_path / "best.pt").exists() and not (tmp_path / "checkpoint.pt").exists()


def test_a_finished_run_is_loaded_not_retrained(tmp_path):
    first, student = run(str(tmp_path))
    again = tiny_student()
    result = train_student(CONFIG, again, *tiny_data(), tmp_path, progress=False)
    assert result.best_validation == first.best_validation
    for name, value in student.trainable_state().items():
        assert torch.equal(value, again.trainable_state()[name])


def test_runs_are_deterministic_on_the_cpu(tmp_path):
    one, student_one = run(str(tmp_path / "a"))
    two, student_two = run(str(tmp_path / "b"))
    assert one.best_validation == two.best_validation
    assert all(torch.equal(v, student_two.trainable_state()[k]) for k, v in student_one.trainable_state().items())


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    config = replace(CONFIG, lr=0.0, warmup_steps=1, patience=2, max_epochs=10)
    result = train_student(config, tiny_student(), *tiny_data(), tmp_path, progress=False)
    assert result.best_epoch == 1 and result.epochs == 3


def test_a_run_killed_with_sigkill_resumes_to_the_same_result(tmp_path):
    reference = tmp_path / "uninterrupted"
    result, _ = run(str(reference))
    expected = {"best_validation": result.best_validation, "best_epoch": result.best_epoch, "epochs": result.epochs}
    interrupted = tmp_path / "interrupted"
    process = subprocess.Popen([sys.executable, str(WORKER), str(interrupted), "0.7"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        log = interrupted / "log.jsonl"
        if (interrupted / "checkpoint.pt").exists() and log.exists() and len(log.read_text().splitlines()) >= 20:
            break
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (interrupted / "metrics.json").exists(), "the run was killed before it finished"
    resumed = json.loads(subprocess.run([sys.executable, str(WORKER), str(interrupted), "0"], check=True,
                                        capture_output=True, text=True).stdout)
    assert resumed == expected
    assert (interrupted / "log.jsonl").read_text() == (reference / "log.jsonl").read_text()
    best_a, best_b = (torch.load(folder / "best.pt", weights_only=True) for folder in (reference, interrupted))
    assert all(torch.equal(best_a[k], best_b[k]) for k in best_a)


def test_only_the_chosen_layers_train(tmp_path):
    from transformers import AutoTokenizer

    from tomclip_lib import assets

    tokenizer = AutoTokenizer.from_pretrained(assets.resolve("intfloat/multilingual-e5-small"))
    student = tiny_student(trainable_layers=1, tokenizer=tokenizer, vocab_size=len(tokenizer))
    trainable = {name for name, p in student.named_parameters() if p.requires_grad}
    assert any(name.startswith("backbone.encoder.layer.1.") for name in trainable)
    assert not any(name.startswith(("backbone.encoder.layer.0.", "backbone.embeddings")) for name in trainable)
    outputs = student(["a cat", "ein Hund", "고양이"])
    assert outputs.shape == (3, 8)
    with pytest.raises(TomclipError, match="pass texts"):
        student(torch.zeros(2, 16))
    texts = DistillationSplit(["a cat", "a dog", "ein Hund", "eine Katze"] * 8, torch.randn(32, 8))
    result = train_student(replace(CONFIG, max_epochs=1, batch_size=8), student, texts, texts, tmp_path, progress=False)
    assert result.epochs == 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(variant="CLIP-only"), "Unknown variant"),
    (dict(setting="tiny"), "Unknown setting"),
    (dict(batch_size=1), "at least 2"),
])
def test_bad_configurations_are_refused(kwargs, message):
    with pytest.raises(TomclipError, match=message):
        TrainConfig(**kwargs)


def test_bad_splits_are_refused():
    with pytest.raises(TomclipError, match="3 student inputs but 2"):
        DistillationSplit(torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(TomclipError, match="empty"):
        DistillationSplit(torch.zeros(0, 4), torch.zeros(0, 4))
