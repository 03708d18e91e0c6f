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


def test_the_cosine_schedule_warms_up_then_decays_to_zero():
    config = TrainConfig(lr_schedule="cosine", warmup_steps=10)
    factors = [train.lr_factor(config, 110, step) for step in (0, 9, 10, 60, 110, 500)]
    # warm-up 1/10 .. 10/10; then cos over the 100 steps after it: 1 at its start, 1/2 halfway, 0 at the end
    assert factors == pytest.approx([0.1, 1.0, 1.0, 0.5, 0.0, 0.0])
    constant = replace(config, lr_schedule="constant")
    assert [train.lr_factor(constant, 110, step) for step in (0, 9, 60, 500)] == pytest.approx([0.1, 1.0, 1.0, 1.0])


def test_a_cosine_run_ends_at_a_rate_near_zero(tmp_path):
    config = replace(CONFIG, max_epochs=3, lr_schedule="cosine")
    train_student(config, tiny_student(), *tiny_data(), tmp_path, progress=False)
    rates = [line["lr"] for line in train.read_log(tmp_path)]
    assert max(rates) == pytest.approx(config.lr)
    assert rates[-1] < 0.01 * config.lr and all(a >= b for a, b in zip(rates[5:], rates[6:]))


def test_runs_cached_before_the_schedule_existed_keep_their_keys():
    """The key of a default configuration as commit 588ae4f computed it, before lr_schedule was a field:
    a changed key would retrain every cached run for nothing."""
    assert TrainConfig().key("x") == "eb1b7577d829"
    assert TrainConfig(lr_schedule="cosine").key("x") != TrainConfig().key("x")


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    config = replace(CONFIG, lr=0.0, warmup_steps=1, patience=2, max_epochs=10)
    result = train_student(config, tiny_student(), *tiny_data(), tmp_path, progress=False)
    assert result.best_epoch == 1 and result.epochs == 3


def test_without_patience_every_epoch_runs_and_the_last_is_kept(tmp_path):
    """lr 0 never lowers the validation loss, so early stopping would keep epoch 1 (test above)."""
    config = replace(CONFIG, lr=0.0, warmup_steps=1, patience=None, max_epochs=4)
    result = train_student(config, tiny_student(), *tiny_data(), tmp_path, progress=False)
    assert result.best_epoch == 4 and result.epochs == 4


def test_a_run_killed_with_sigkill_resumes_to_the_same_result(tmp_path):
    reference = tmp_path / "uninterrupted"
    result, _ = run(str(reference))
    expected = {"best_validation": result.best_validation, "best_epoch": result.best_epoch, "epochs": result.epochs}
    interrupted = tmp_path / "interrupted"
    process = subprocess.Popen(
        [sys.executable, str(WORKER), str(interrupted), "0.7"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        log = interrupted / "log.jsonl"
        if (interrupted / "checkpoint.pt").exists() and log.exists() and len(log.read_text().splitlines()) >= 20:
            break
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (interrupted / "metrics.json").exists(), "the run was killed before it finished"
    resumed = json.loads(
        subprocess.run(
            [sys.executable, str(WORKER), str(interrupted), "0"], check=True, capture_output=True, text=True
        ).stdout
    )
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
    before = student.trainable_state()
    # backbone_lr 0: the layer's own learning rate holds it still (weight decay is lr-scaled), the head learns at lr
    result = train_student(
        replace(CONFIG, max_epochs=1, batch_size=8, backbone_lr=0.0), student, texts, texts, tmp_path, progress=False
    )
    assert result.epochs == 1
    after = student.trainable_state()
    assert all(torch.equal(before[name], after[name]) for name in before if name.startswith("backbone."))
    assert not all(torch.equal(before[name], after[name]) for name in before if not name.startswith("backbone."))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(variant="CLIP-only"), "Unknown variant"),
        (dict(setting="tiny"), "Unknown setting"),
        (dict(batch_size=1), "at least 2"),
        (dict(lr_schedule="linear"), "Unknown lr_schedule"),
    ],
)
def test_bad_configurations_are_refused(kwargs, message):
    with pytest.raises(TomclipError, match=message):
        TrainConfig(**kwargs)


def test_bad_splits_are_refused():
    with pytest.raises(TomclipError, match="3 student inputs but 2"):
        DistillationSplit(torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(TomclipError, match="empty"):
        DistillationSplit(torch.zeros(0, 4), torch.zeros(0, 4))


def _check_batches(batches, groups, batch_size):
    rows = torch.cat(batches)
    assert len(rows) == len(set(rows.tolist())), "a row appears twice in one epoch"
    for batch in batches:
        assert 2 <= len(batch) <= batch_size
        assert len(set(groups[batch].tolist())) == len(batch), "two rows of one English caption in a batch"
    return rows


def test_epoch_batches_hold_distinct_captions_and_every_pair_once():
    # 40 English captions, each in 13 languages (as the full setting), shuffled in the corpus
    groups = torch.arange(40).repeat(13)[torch.randperm(520, generator=torch.Generator().manual_seed(1))]
    batches = train.epoch_batches(groups, 16, seed=3, epoch=0)
    rows = _check_batches(batches, groups, 16)
    assert sorted(rows.tolist()) == list(range(520))  # every pair once: no round has a single row here
    assert [len(b) for b in batches].count(14) == 13 and [len(b) for b in batches].count(
        13
    ) == 2 * 13  # 40 = 14 + 13 + 13
    again = train.epoch_batches(groups, 16, seed=3, epoch=0)
    assert all(torch.equal(a, b) for a, b in zip(batches, again))  # a function of (seed, epoch): resuming repeats it
    other = train.epoch_batches(groups, 16, seed=3, epoch=1)
    assert not all(torch.equal(a, b) for a, b in zip(batches, other))
    # each batch mixes languages: the language of a row is its position // 40 in an unshuffled corpus
    language = torch.arange(520) // 40
    language = language[torch.randperm(520, generator=torch.Generator().manual_seed(1))]
    assert sum(len(set(language[b].tolist())) > 1 for b in batches) >= len(batches) - 1


def test_epoch_batches_drop_only_single_rows():
    groups = torch.tensor([0, 0, 0, 1, 2, 3])  # caption 0 in three languages: rounds of 4, 1 and 1 rows
    batches = train.epoch_batches(groups, 4, seed=0, epoch=0)
    rows = _check_batches(batches, groups, 4)
    assert len(batches) == 1 and len(rows) == 4 and set(rows.tolist()) >= {3, 4, 5}  # one of caption 0's rows
    distinct = train.epoch_batches(torch.arange(10), 4, seed=0, epoch=0)  # every row its own caption
    assert sorted(len(b) for b in distinct) == [3, 3, 4]


def test_validation_batches_are_fixed_and_distinct():
    groups = torch.arange(30).repeat(3)
    split = DistillationSplit(torch.zeros(90, 4), torch.zeros(90, 4), groups)
    first, second = train.validation_batches(split, 32), train.validation_batches(split, 32)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    _check_batches(first, groups, 32)


def test_the_balance_of_the_terms_is_logged(tmp_path):
    train_split, validation = tiny_data()
    result = train_student(
        replace(CONFIG, max_epochs=2), tiny_student(), train_split, validation, tmp_path, progress=False
    )
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    for moment in ("balance_start", "balance_best"):
        balance = metrics[moment]
        assert set(balance) == {"pointwise", "distance_matrix", "topology_h0"}
        for kind in ("loss", "gradient"):
            assert sum(term[kind] for term in balance.values()) == pytest.approx(1.0)
            assert all(0 < term[kind] < 1 for term in balance.values())


def test_term_balance_matches_the_weighted_terms_by_hand():
    torch.manual_seed(0)
    student = torch.nn.Linear(4, 3)
    split = DistillationSplit(torch.randn(8, 4), torch.randn(8, 3))
    loss_fn = train.AlignmentLoss(pointwise=1.0, distance_matrix=0.5)
    rows = torch.arange(8)
    balance = train.term_balance(student, loss_fn, split, rows, torch.device("cpu"), False)
    outputs = student(split.inputs)
    _, terms = loss_fn(outputs, split.targets)
    pointwise, matrix = float(terms["pointwise"]), 0.5 * float(terms["distance_matrix"])
    assert balance["pointwise"]["loss"] == pytest.approx(pointwise / (pointwise + matrix))
    norm = torch.cat(
        [
            g.flatten()
            for g in torch.autograd.grad(
                0.5 * train.AlignmentLoss(pointwise=0, distance_matrix=1)(student(split.inputs), split.targets)[0],
                list(student.parameters()),
            )
        ]
    ).norm()
    assert balance["distance_matrix"]["gradient_norm"] == pytest.approx(float(norm), rel=1e-5)
