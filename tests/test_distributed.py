"""Training with several processes (torchrun, gloo on the CPU) is training on the global batch.

Two torchrun launches of two processes serve every test here (starting processes that import torch
costs seconds): the first is killed with kill -9 once its first checkpoint exists; the second
resumes it and then trains, beside it, the runs compared with one process.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from train_worker import DISTRIBUTED_VARIANTS, KILLED, THREE_STEPS, run_three_steps, tiny_student

from tomclip_lib import distributed, train
from tomclip_lib.errors import TomclipError

WORKER = Path(__file__).parent / "train_worker.py"
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(WORKER)]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """Folders trained by two processes: 'interrupted' (killed, then resumed), 'compared/<run>'."""
    root = tmp_path_factory.mktemp("two-processes")
    interrupted, compared = root / "interrupted", root / "compared"
    process = subprocess.Popen([*TORCHRUN, str(interrupted), "0.5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None and not (interrupted / train.CHECKPOINT).exists():
        time.sleep(0.05)
    # torchrun starts each rank in a session of its own: kill -9 the launcher and every rank, as a crash would.
    launcher = psutil.Process(process.pid)
    for doomed in [launcher, *launcher.children(recursive=True)]:
        doomed.kill()
    _, errors = process.communicate()
    assert (interrupted / train.CHECKPOINT).exists(), (process.returncode, errors.decode()[-3000:])
    assert not (interrupted / train.METRICS).exists(), "the run was killed before it finished"
    finished = subprocess.run(
        [*TORCHRUN, str(interrupted), "0", str(compared)], capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stderr[-4000:]
    return root


def test_a_two_process_run_killed_with_sigkill_resumes_to_the_uninterrupted_weights(two_processes):
    resumed, uninterrupted = two_processes / "interrupted", two_processes / "compared" / "uninterrupted"
    assert (resumed / train.LOG).read_text() == (uninterrupted / train.LOG).read_text()
    metrics = [json.loads((folder / train.METRICS).read_text()) for folder in (resumed, uninterrupted)]
    assert [{k: v for k, v in m.items() if k != "seconds"} for m in metrics] == [
        {
            "best_validation": metrics[1]["best_validation"],
            "best_epoch": metrics[1]["best_epoch"],
            "epochs": KILLED.max_epochs,
            "steps": 15,
            "processes": 2,
            # the balance at the start was measured before the kill and must survive it
            "balance_start": metrics[1]["balance_start"],
            "balance_best": metrics[1]["balance_best"],
        }
    ] * 2
    assert metrics[1]["balance_start"]["topology_h0"]["loss"] > 0
    best_a, best_b = (torch.load(folder / train.BEST, weights_only=True) for folder in (resumed, uninterrupted))
    assert all(torch.equal(best_a[k], best_b[k]) for k in best_a)


@pytest.mark.parametrize("variant", DISTRIBUTED_VARIANTS)
def test_two_processes_take_the_steps_of_one_on_the_global_batch(two_processes, variant, tmp_path):
    """Three steps (the last on an uneven batch of 5 pairs): same losses, same weights, same validation."""
    run_three_steps(str(tmp_path), variant)
    two = two_processes / "compared" / variant
    steps_one, steps_two = train.read_log(tmp_path), train.read_log(two)
    assert len(steps_one) == len(steps_two) == 3
    for one, other in zip(steps_one, steps_two):
        assert one.keys() == other.keys()
        for name in one.keys() - {"epoch", "step", "lr"}:
            assert other[name] == pytest.approx(one[name], rel=1e-6, abs=1e-12), (name, one["step"])
    weights_one, weights_two = (torch.load(folder / train.BEST, weights_only=True) for folder in (tmp_path, two))
    assert weights_one.keys() == weights_two.keys()
    for name, value in weights_one.items():
        assert (value - weights_two[name]).abs().max() <= 1e-5, name
    validation = [json.loads((folder / train.METRICS).read_text())["best_validation"] for folder in (tmp_path, two)]
    assert validation[1] == pytest.approx(validation[0], rel=1e-6)
    initial = tiny_student().trainable_state()
    assert not all(torch.equal(initial[name], value) for name, value in weights_one.items()), "the runs trained"


def test_every_row_of_a_batch_has_one_rank_and_blocks_keep_the_batch_order():
    rows = torch.tensor([7, 3, 9, 1, 4])
    blocks = [distributed.shard(rows, distributed.Ranks(rank, 4)) for rank in range(4)]
    counts = blocks[0][1]
    assert counts == [2, 2, 1, 0] and all(block[1] == counts for block in blocks)
    assert all(len(local) == 2 for local, _ in blocks), "equal lengths: the gather needs them"
    assert torch.equal(torch.cat([local[:count] for (local, _), count in zip(blocks, counts)]), rows)
    assert torch.equal(blocks[3][0], torch.tensor([7, 7])), "an empty block is padded with real rows"


def test_a_batch_that_does_not_split_over_the_processes_is_refused():
    distributed.check_batch_size(256, 8)
    with pytest.raises(TomclipError, match="batch_size 250 does not split over 8 processes"):
        distributed.check_batch_size(250, 8)
    with pytest.raises(TomclipError, match="does not split over 4 processes"):
        distributed.check_batch_size(2, 4)
    with pytest.raises(TomclipError, match="at least 1"):
        distributed.check_batch_size(THREE_STEPS.batch_size, 0)


def test_the_entry_point_outside_torchrun_says_how_to_start_it(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(TomclipError, match="torchrun --nproc-per-node"):
        distributed.init_from_environment()


def test_a_failing_torchrun_launch_is_a_clear_error_with_the_processes_last_lines(capsys):
    with pytest.raises(TomclipError, match=r"(?s)failed \(exit status 1\).*No module named tomclip_no_such_module"):
        distributed.launch(["tomclip_no_such_module"], 2)
    assert "No module named tomclip_no_such_module" in capsys.readouterr().out, "the processes' lines are passed on"
