"""The paper profile's cost estimate (tomclip_lib/cost.py): its arithmetic, its use of a measured data
card, and that the table in docs/profiles.md is the one the module writes from params/paper.yaml."""

import importlib.util
import json
from pathlib import Path

import pytest

from tomclip_lib import cost, paths
from tomclip_lib.errors import TomclipError

ROOT = Path(__file__).resolve().parents[1]


def test_the_published_sizes_come_out_of_the_architectures():
    assert cost.XLM_R_LARGE.parameters == pytest.approx(560e6, rel=0.01)  # xlm-roberta-large: 560 M
    assert cost.image_flops() / 2 == pytest.approx(4.4e9, rel=0.02)  # ViT-B/32 at 224 px: 4.4 G multiply-adds


def test_a_batch_is_padded_to_its_expected_longest_caption():
    histogram = {10: 0.5, 20: 0.5}
    assert cost.expected_max(histogram, 1) == pytest.approx(cost.mean_length(histogram)) == pytest.approx(15)
    assert cost.expected_max(histogram, 2) == pytest.approx(17.5)  # the longer one unless both are short
    assumed, source = cost.caption_histogram("paper-absent", 77)
    assert source.startswith("assumed") and sum(assumed.values()) == pytest.approx(1) and max(assumed) == 77
    widths = [cost.expected_max(assumed, rows) for rows in (1, 32, 256, 10_000)]
    assert widths == sorted(widths) and widths[-1] <= 77
    # More GPUs: fewer rows each, narrower padding, shorter steps (all-reduce included).
    assert cost.step_seconds(256, 8, assumed) < cost.step_seconds(256, 1, assumed) / 3


def test_a_data_card_that_measured_caption_lengths_replaces_the_assumption(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "results_dir", lambda profile: tmp_path / profile)
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "data_card.json").write_text(
        json.dumps({"caption_tokens": {"histogram": {"12": 3, "90": 1}}})
    )
    histogram, source = cost.caption_histogram("paper", 77)
    assert source.startswith("measured") and histogram == {12: 0.75, 77: 0.25}  # cut at max_length
    assert "caption lengths measured by notebook 01 (results/paper/data_card.json: 4 training captions)" in (
        cost.markdown("paper")
    )


@pytest.mark.parametrize(
    "card",
    [
        "{not json",
        json.dumps({"caption_tokens": {"histogram": {"twelve": 3}}}),
        json.dumps({"caption_tokens": {"histogram": {"0": 3}}}),
        json.dumps({"caption_tokens": {"histogram": {"12": -1}}}),
        json.dumps({"caption_tokens": {"tokenizer": "xlm-roberta-large"}}),
        json.dumps({"caption_tokens": [12, 13]}),
    ],
)
def test_a_data_card_whose_caption_lengths_cannot_be_read_is_a_clear_error(card, tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "results_dir", lambda profile: tmp_path / profile)
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "data_card.json").write_text(card)
    with pytest.raises(TomclipError, match=r"results/paper/data_card\.json.*make paper PROFILE=paper"):
        cost.caption_histogram("paper", 77)


def test_a_data_card_without_caption_lengths_leaves_the_assumption_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "results_dir", lambda profile: tmp_path / profile)
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "data_card.json").write_text(json.dumps({"profile": "paper"}))
    _, source = cost.caption_histogram("paper", 77)
    assert source.startswith("assumed") and "not measured" in source and "notebook 01" in source


def test_the_table_in_docs_is_the_one_the_module_writes():
    committed = (ROOT / "results" / "cost" / "paper.md").read_text(encoding="utf-8")
    assert committed == cost.markdown("paper"), (
        "params/paper.yaml or cost.py changed: python -m tomclip_lib.cost paper --write"
    )
    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "scripts" / "update-readme.py")
    update_readme = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(update_readme)
    profiles = (ROOT / "docs" / "profiles.md").read_text(encoding="utf-8")
    assert update_readme.refresh(profiles)[0] == profiles, "docs/profiles.md's cost block is stale: make readme"
    assert "ESTIMATES" in committed and cost.GPU_NAME in committed


def test_the_runner_prints_a_line_for_the_paper_profile_only():
    line = cost.notebook_line("paper", "03_train")
    assert "estimate" in line and "GPU-hours on one GPU" in line and "7,793 steps" in line
    assert cost.notebook_line("paper", "07_topology").startswith("estimated GPU cost")
    assert cost.notebook_line("embedded", "03_train") is None
    assert cost.notebook_line("no-such-profile", "03_train") is None
