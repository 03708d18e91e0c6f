"""Atomic writes and the table and figure helpers."""

import hashlib

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from tomclip_lib import plots, report
from tomclip_lib.io import atomic_path, write_json, write_text

matplotlib.use("agg")


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "table.csv"
    write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_atomic_folder_replacement(tmp_path):
    target = tmp_path / "model"
    for content in ("first", "second"):
        with atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "weights").write_text(content)
    assert (target / "weights").read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_json_is_written_sorted_and_readable(tmp_path):
    write_json(tmp_path / "card.json", {"b": 1, "a": "한국어"})
    assert (tmp_path / "card.json").read_text(encoding="utf-8") == '{\n  "a": "한국어",\n  "b": 1\n}\n'


def test_tables_are_written_as_csv_and_markdown(output_dirs):
    frame = pd.DataFrame({"language": ["en", "ko"], "accuracy": [0.8123, 0.7]})
    csv_path, md_path = report.save_table(frame, "zero_shot", "unit")
    assert pd.read_csv(csv_path).equals(frame)
    assert "| ko         |       0.70 |" in md_path.read_text()


def test_figures_are_written_as_png_and_pdf_with_cjk_text(output_dirs):
    images = np.full((2, 8, 8, 3), 255, dtype=np.uint8)
    images[0, 2:6, 2:6] = [200, 30, 30]
    fig = plots.image_grid(images, [["apple", "사과", "りんご"], ["whale", "고래", "鲸"]], ncols=2)
    assert report.save_figure(fig, "grid", "unit") is fig
    png, pdf = (output_dirs / "figures" / "unit" / f"grid.{suffix}" for suffix in ("png", "pdf"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"
    assert png.stat().st_size > 5000
    from matplotlib import font_manager

    assert "Noto Sans CJK JP" in {f.name for f in font_manager.fontManager.ttflist}


def test_figure_data_are_what_was_given():
    images = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    images[0, 1, 2] = [10, 20, 30]
    fig = plots.image_grid(images, [["x"]], ncols=1)
    shown = fig.axes[0].images[0].get_array()
    assert hashlib.sha256(np.asarray(shown).tobytes()).hexdigest() == hashlib.sha256(images[0].tobytes()).hexdigest()


def test_readme_blocks_are_refreshed_from_files(tmp_path):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "update_readme", Path(__file__).parents[1] / "scripts" / "update-readme.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "table.md").write_text("| a |\n|---|\n| 1 |\n")
    text = "intro\n<!-- include: table.md -->\nold\n<!-- end include -->\n<!-- include: missing.md -->\nkept\n<!-- end include -->\n"
    refreshed, missing = module.refresh(text, root=tmp_path)
    assert "| 1 |" in refreshed and "old" not in refreshed and "kept" in refreshed and missing == ["missing.md"]


def test_a_texts_encoding_does_not_depend_on_its_batch_mates():
    from tomclip_lib.encoding import encode
    from tomclip_lib.models.text import STUDENT_BACKBONE, load_encoder

    model, tokenizer = load_encoder(STUDENT_BACKBONE)
    texts = ["cat face", "dog face", "a much longer caption about a red apple", "고양이", "chien"]
    alone = encode(model, tokenizer, texts[:1], prefix="query: ")
    together = encode(model, tokenizer, texts, prefix="query: ")
    reordered = encode(model, tokenizer, texts[::-1], prefix="query: ")
    assert torch.equal(alone[0], together[0]) and torch.equal(together[0], reordered[-1])
