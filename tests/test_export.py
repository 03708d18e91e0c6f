"""The export of a trained student (tomclip_lib/export.py): written from a profile's records, loaded
back in a clean process with transformers alone (the lines of docs/export.md) and with open_clip,
the same embeddings as the student; bad input refused with nothing written. Notebook 04's tables as
CLIP_benchmark results (tomclip_lib/clip_benchmark.py).

The students are small and random, the architectures real: an embedded-style one (BERT backbone,
frozen with an MLP head, and with its top layer trained) and a paper-profile one (XLM-RoBERTa
fine-tuned whole, one Linear head, an open_clip teacher), as tests/paper_fixtures.py's tests make.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tomclip_lib import clip_benchmark, export, paths, records
from tomclip_lib.errors import TomclipError
from tomclip_lib.models import text as text_models
from tomclip_lib.models.student import Student, StudentConfig
from tomclip_lib.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "a photo of a dog",
    "ein Foto von einem Hund",
    "犬の写真",
    "фото собаки на пляже в солнечный день",
    "x",
    "una foto de un perro que corre por un prado verde con flores amarillas",
]
# A tiny open_clip model config for the paper-profile teacher: a ViT with QuickGELU, as OpenAI's ViT-B/32,
# embedding in fewer dimensions than the student's width (512 < 1024 in the paper), so the head's bias can move.
TINY_CLIP = {
    "embed_dim": 16,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 1, "layers": 1},
}


def _docs_snippet() -> str:
    """The transformers lines of docs/export.md (its first python block that defines embed)."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "export.md").read_text(encoding="utf-8"), re.S)
    return next(block for block in blocks if "def embed" in block)


@pytest.fixture(scope="module")
def tokenizer():
    """A small SentencePiece-style (unigram) tokenizer with XLM-R's special tokens and ids: XLM-R's own
    250,000 pieces take seconds to load in every process, and the round trip does not depend on them."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    model = Tokenizer(models.Unigram())
    model.pre_tokenizer, model.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    model.train_from_iterator(
        TEXTS * 20, trainers.UnigramTrainer(vocab_size=120, special_tokens=specials, unk_token="<unk>")
    )
    model.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return PreTrainedTokenizerFast(
        tokenizer_object=model, bos_token="<s>", pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def _backbone(folder: Path, tokenizer, kind: str) -> Path:
    """A small random backbone of a real architecture, saved as a local Hugging Face folder."""
    from transformers import BertConfig, BertModel, XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(0)
    shape = dict(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=80,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = (
        XLMRobertaModel(XLMRobertaConfig(**shape), add_pooling_layer=False)
        if kind == "xlm-roberta"
        else BertModel(BertConfig(**shape), add_pooling_layer=False)
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _profile(root: Path, monkeypatch, student_config: StudentConfig, runs: list[dict], teacher: dict):
    """A profile's records in tmp: students.json, each run's best.pt (its weights moved away from the
    backbone's, so an export that forgot them would be caught) and metrics.json; teacher.json."""
    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: root / "artifacts" / profile)
    monkeypatch.setattr(paths, "results_dir", lambda profile: root / "results" / profile)
    rows = []
    for number, run in enumerate(runs):
        config = replace(student_config, trainable_layers=run["trainable_layers"])
        student = Student(config, seed=number)
        generator = torch.Generator().manual_seed(100 + number)
        state = {
            name: value + 0.05 * torch.randn(value.shape, generator=generator)
            for name, value in student.trainable_state().items()
        }
        folder = root / "artifacts" / "fixture" / "students" / f"{run['variant']}-{run['setting']}-seed{run['seed']}"
        folder.mkdir(parents=True)
        torch.save(state, folder / "best.pt")
        (folder / "metrics.json").write_text(
            json.dumps({"best_validation": 0.5, "best_epoch": 2, "epochs": 3, "steps": 9, "seconds": 1.0})
        )
        rows.append({**run, "objective": run["variant"].split(" (")[0], "run_dir": str(folder)})
    records.save_runs("fixture", pd.DataFrame(rows), student_config, TrainConfig(), 1.0, None)
    records.save_teacher_pointer("fixture", teacher)
    runs_table, _ = records.load_runs("fixture")
    return list(runs_table.itertuples(index=False))


@pytest.fixture(scope="module")
def exports(tmp_path_factory, tokenizer):
    """Exports of three students (embedded-style frozen and top-layer, paper-style), their expected
    embeddings of TEXTS, and the paper student's open_clip folder; built once for the module."""
    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("export")
    try:
        bert = _backbone(root / "bert", tokenizer, "bert")
        monkeypatch.setitem(text_models.PREFIXES, str(bert), "query: ")  # as E5's, which the embedded student reads
        embedded = StudentConfig(backbone=str(bert), out_dim=24, head_hidden=40, trainable_layers=0, max_length=20)
        runs = _profile(
            root / "embedded",
            monkeypatch,
            embedded,
            [
                {"variant": "ToMCLIP", "trainable_layers": 0, "setting": "low", "seed": 1},
                {"variant": "MCLIP (top layer)", "trainable_layers": 1, "setting": "low", "seed": 0},
            ],
            {"kind": "embedded", "folder": "teacher"},
        )
        result = {}
        for run in runs:
            out = root / "out" / clip_benchmark.slug(run.variant)
            export.export_student("fixture", run, out)
            result[run.variant] = (out, records.load_student("fixture", run).encode(TEXTS))

        xlmr = _backbone(root / "xlmr", tokenizer, "xlm-roberta")
        (root / "tiny-clip.json").write_text(json.dumps(TINY_CLIP))
        paper = StudentConfig(backbone=str(xlmr), out_dim=16, head_hidden=None, trainable_layers="all")
        teacher = {"kind": "paper", "pretrained": None, "model": str(root / "tiny-clip.json"), "folder": "teacher"}
        (run,) = _profile(
            root / "paper",
            monkeypatch,
            paper,
            [{"variant": "ToMCLIP", "trainable_layers": "all", "setting": "full", "seed": 0}],
            teacher,
        )
        results = root / "paper" / "results" / "fixture"
        results.mkdir(parents=True)
        pd.DataFrame(
            [
                {
                    "model": "ToMCLIP",
                    "setting": "full",
                    "language": "de",
                    "metric": "top1",
                    "value": 0.25,
                    "ci_low": 0.2,
                    "ci_high": 0.3,
                    "seed": 0,
                }
            ]
        ).to_csv(results / "zero_shot_long.csv", index=False)
        out = root / "out" / "paper"
        export.export_student("fixture", run, out)
        result["paper"] = (out, records.load_student("fixture", run).encode(TEXTS))
        result["paper run"] = run
        yield result
    finally:
        monkeypatch.undo()


def test_exports_load_in_a_clean_process_with_the_same_embeddings(exports, tmp_path):
    """The lines of docs/export.md, in a fresh interpreter without tomclip imported; and open_clip's
    local-dir model for the paper-profile export, whose text tower must equal the student."""
    folders = {name: str(value[0]) for name, value in exports.items() if name != "paper run"}
    script = textwrap.dedent("""
        import json, sys
        import numpy as np
        folders, texts, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
        snippet = sys.stdin.read()
        found = {}
        for name, folder in folders.items():
            scope = {"folder": folder}
            exec(snippet, scope)
            found[name] = scope["embed"](texts).numpy()
        import open_clip, torch
        model, _, preprocess = open_clip.create_model_and_transforms("local-dir:" + folders["paper"])
        model.eval()
        tokenizer = open_clip.get_tokenizer("local-dir:" + folders["paper"])
        with torch.no_grad():
            found["open_clip"] = model.encode_text(tokenizer(texts), normalize=True).numpy()
            image = model.encode_image(torch.zeros(1, 3, 32, 32), normalize=True)
        assert image.shape == (1, 16)
        assert "tomclip_lib" not in sys.modules
        np.savez(out, **found)
    """)
    out = tmp_path / "embeddings.npz"
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(folders), json.dumps(TEXTS), str(out)],
        input=_docs_snippet(),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env={**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = np.load(out)
    for name in folders:
        np.testing.assert_allclose(found[name], exports[name][1], atol=1e-5, err_msg=name)
    np.testing.assert_allclose(found["open_clip"], exports["paper"][1], atol=1e-5)


def test_the_export_describes_its_run(exports, tokenizer):
    folder, expected = exports["paper"]
    spec = json.loads((folder / export.SPEC).read_text())
    assert spec["run"]["model"] == "ToMCLIP" and spec["run"]["seed"] == 0 and spec["prefix"] == ""
    assert spec["open_clip"]["weights"] == export.OPEN_CLIP_WEIGHTS
    card = (folder / export.CARD).read_text()
    assert card.startswith("---\n") and "ToMCLIP, full, seed 0" in card and spec["commit"] in card
    assert "| de | 25.0 [20.0, 30.0] |" in card  # the run's score with its interval, in percent
    embedded, _ = exports["ToMCLIP"]
    spec = json.loads((embedded / export.SPEC).read_text())
    assert spec["prefix"] == "query: " and [l["type"] for l in spec["head"]] == ["linear", "gelu", "linear"]
    assert "open_clip" not in spec and "embedded profile's own CLIP" in spec["open_clip_note"]
    assert not (embedded / export.OPEN_CLIP_CONFIG).exists()
    # With tomclip installed, its own reader gives the same numbers.
    np.testing.assert_allclose(export.ExportedStudent(folder).encode(TEXTS), expected, atol=1e-5)


def test_a_moved_export_is_repointed(exports, tmp_path):
    import shutil

    moved = tmp_path / "moved"
    shutil.copytree(exports["paper"][0], moved)
    export.repoint(moved)
    config = json.loads((moved / export.OPEN_CLIP_CONFIG).read_text())["model_cfg"]["text_cfg"]
    assert config["hf_model_name"] == config["hf_tokenizer_name"] == str(moved.resolve())
    with pytest.raises(TomclipError, match="nothing to re-point"):
        export.repoint(tmp_path)


def test_bad_input_is_a_clear_error_and_writes_nothing(exports, tmp_path, monkeypatch):
    run = exports["paper run"]
    with pytest.raises(TomclipError, match="exists already"):
        export.export_student("fixture", run, exports["paper"][0])
    missing = run._replace(run_dir=str(tmp_path / "never-trained"))
    with pytest.raises(TomclipError, match="no trained weights"):
        export.export_student("fixture", missing, tmp_path / "a")
    assert not (tmp_path / "a").exists()
    # A checkpoint of another version: a parameter this student lacks, or one of another shape.
    for name, state in (("unknown", {"head.extra": torch.zeros(1)}), ("shape", {"head.weight": torch.zeros(3, 3)})):
        other = tmp_path / f"other-{name}"
        other.mkdir()
        torch.save(state, other / "best.pt")

        def load_student(profile, row):  # as records.load_student: the run's student, its best.pt loaded
            student = Student(
                StudentConfig(backbone=str(exports["paper"][0]), out_dim=16, head_hidden=None, trainable_layers="all")
            )
            student.load_trainable_state(torch.load(Path(row.run_dir) / "best.pt", weights_only=True))
            return student

        monkeypatch.setattr(records, "load_student", load_student)
        with pytest.raises(TomclipError, match="another version"):
            export.export_student("fixture", run._replace(run_dir=str(other)), tmp_path / f"b-{name}")
        assert not (tmp_path / f"b-{name}").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_a_run_that_was_not_trained_names_those_that_were(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: tmp_path / profile)
    records.save_runs(
        "p",
        pd.DataFrame([{"variant": "MCLIP", "setting": "low", "seed": 0, "run_dir": "x"}]),
        StudentConfig(),
        TrainConfig(),
    )
    with pytest.raises(TomclipError, match=r"Trained runs: MCLIP, low, seed 0"):
        export.find_run("p", "ToMCLIP")
    assert export.find_run("p", "MCLIP").seed == 0


def test_clip_benchmark_results_from_notebook_04s_tables(output_dirs):
    """results/embedded's tables in CLIP_benchmark's shape: one file per (run, task, language)."""
    folder = paths.results_dir("embedded")
    folder.mkdir(parents=True)
    for table in ("zero_shot_long", "retrieval_long"):
        (folder / f"{table}.csv").write_bytes((ROOT / "results" / "embedded" / f"{table}.csv").read_bytes())
    files = clip_benchmark.write_benchmark_results("embedded")
    zero_shot = pd.read_csv(folder / "zero_shot_long.csv")
    retrieval = pd.read_csv(folder / "retrieval_long.csv")
    groups = lambda t: len(t.groupby(["model", "setting", "seed", "language"], dropna=False))  # noqa: E731
    assert len(files) == groups(zero_shot) + groups(retrieval) == len(set(files))
    record = json.loads(
        (
            folder / "clip_benchmark" / "fashion-mnist_tomclip-embedded-low-seed0_tomclip_ko_"
            "zeroshot_classification.json"
        ).read_text()
    )
    assert set(record) == {"dataset", "model", "pretrained", "task", "language", "metrics"}
    row = zero_shot.query(
        "model == 'ToMCLIP' and setting == 'low' and seed == 0 and language == 'ko' and metric == 'top1'"
    ).iloc[0]
    assert record["metrics"]["acc1"] == pytest.approx(row.value)
    assert record["metrics"]["acc1_ci_low"] == pytest.approx(row.ci_low)
    retrieval_file = next(p for p in files if p.name.endswith("_en_zeroshot_retrieval.json") and "teacher" in p.name)
    metrics = json.loads(retrieval_file.read_text())["metrics"]
    assert {"image_retrieval_recall@1", "text_retrieval_recall@10", "image_retrieval_recall@5_ci_high"} <= set(metrics)
