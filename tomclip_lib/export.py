"""A trained student as files that others load without tomclip, and its scores as CLIP_benchmark results.

    python -m tomclip_lib.export PROFILE [--model ToMCLIP] [--setting low] [--seed 0] [--out FOLDER]

(`make export PROFILE=... MODEL=... SETTING=... SEED=...`) writes one folder:

- the student's text encoder, whole and with its trained weights, and its tokenizer, through
  `save_pretrained`: `config.json`, `model.safetensors`, `tokenizer*.json`;
- `head.safetensors` and `tomclip.json`: the head (as an `nn.Sequential`: Linear, or Linear-GELU-Linear),
  the pooling (mean over the attention mask), the prefix the backbone expects ("query: " for E5),
  the maximum length, and where the run came from;
- `README.md`, a model card written from the run's records: data, settings, seed, the run's scores
  with their 95% intervals (results/<profile>/zero_shot_long.csv, retrieval_long.csv, where
  present), the commit;
- with a one-Linear head and the paper's teacher (open_clip CLIP), `open_clip_config.json` and
  `open_clip_model.safetensors`: the student as the text tower of an open_clip `CustomTextCLIP`
  beside the teacher's image tower, loadable with `open_clip.create_model_and_transforms(
  "local-dir:FOLDER")` and so by CLIP_benchmark-style code. open_clip's Hugging Face text tower
  has a Linear projection without bias; the head's bias b is moved into the bias of the encoder's
  last LayerNorm (+c with W c = b: mean pooling carries a constant through, so W(pool + c) =
  W pool + b), which is exact when W has full row rank (checked; otherwise no open_clip files).

docs/export.md shows the few lines that load the folder with transformers alone; tests/test_export.py
runs them in a clean process. The folder is written atomically: under a temporary name, renamed
when complete; an existing folder is never touched.

Notebook 04's scores as CLIP_benchmark results are tomclip_lib/clip_benchmark.py's job
(`python -m tomclip_lib.clip_benchmark PROFILE`).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import open_clip
import pandas as pd
import torch
import transformers
from open_clip.transformer import QuickGELU
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModel, AutoTokenizer

from . import __version__, clip_benchmark, paths, records
from .errors import TomclipError
from .io import atomic_path, write_json
from .models.student import encoder_layers
from .stages.grid import scaled_weights
from .train import VARIANTS

#: Changes whenever the files an export writes change meaning (tomclip.json records it).
EXPORT_FORMAT = 1
SPEC, HEAD, CARD = "tomclip.json", "head.safetensors", "README.md"
OPEN_CLIP_CONFIG, OPEN_CLIP_WEIGHTS = "open_clip_config.json", "open_clip_model.safetensors"


# ----------------------------------------------------------------------------- the run


def run_label(run) -> str:
    return f"{run.variant}, {run.setting}, seed {int(run.seed)}"


def find_run(profile: str, model: str = "ToMCLIP", setting: str | None = None, seed: int | None = None):
    """The run of notebook 03 for `model` (the runs table's `variant`), `setting` (default: full if
    trained, else low) and `seed` (default: the lowest), as a row of `runs.itertuples()`."""
    runs, _ = records.load_runs(profile)
    rows = list(runs.itertuples(index=False))
    chosen = [
        r
        for r in rows
        if r.variant == model
        and (setting is None or r.setting == setting)
        and (seed is None or int(r.seed) == int(seed))
    ]
    if not chosen:
        available = "; ".join(sorted({run_label(r) for r in rows})) or "none"
        raise TomclipError(
            f"No trained run of profile {profile!r} is {model!r}"
            f"{'' if setting is None else f', setting {setting!r}'}"
            f"{'' if seed is None else f', seed {seed}'}. Trained runs: {available}."
        )
    chosen.sort(key=lambda r: (r.setting != "full", int(r.seed)))
    return chosen[0]


def _student(profile: str, run):
    """The trained Student of `run`, with errors that say which run and what to do."""
    run_dir = Path(getattr(run, "run_dir", "") or "")
    if not (run_dir / "best.pt").is_file():
        raise TomclipError(
            f"The run {run_label(run)} of profile {profile!r} has no trained weights: "
            f"{run_dir / 'best.pt'} does not exist. Run notebook 03_train (make paper PROFILE={profile}) "
            "to train it, or choose another run."
        )
    try:
        return records.load_student(profile, run).eval()
    except TomclipError as error:
        raise TomclipError(
            f"Cannot load the run {run_label(run)} ({run_dir}): {error} It may have been written by "
            f"another version of tomclip (this is {__version__}): train it again with notebook 03."
        ) from None
    except (RuntimeError, KeyError, ValueError) as error:
        raise TomclipError(
            f"The checkpoint {run_dir / 'best.pt'} does not fit the student this version of tomclip "
            f"({__version__}) builds for the run {run_label(run)}: {str(error).splitlines()[0]} "
            "It was probably written by another version: train it again with notebook 03."
        ) from None


def _encoder(student):
    """(encoder, tokenizer): the whole backbone with the student's trained layers, a module of its own."""
    if student.config.trainable_layers == "all":
        return copy.deepcopy(student.backbone).eval(), student.tokenizer
    backbone, tokenizer = student._frozen
    encoder = copy.deepcopy(backbone).eval()
    if student._top_k:  # the student's own copies of the top layers replace the shared frozen ones
        layers = encoder_layers(encoder)
        for index, layer in student.backbone.encoder.layer.items():
            layers[int(index)].load_state_dict(layer.state_dict())
    encoder.requires_grad_(False)
    return encoder, tokenizer


def _max_length(config, encoder, tokenizer) -> int:
    """Where the student cuts a text: its max_length, except with a frozen backbone, whose cached
    features (encoding.encode) read as many tokens as the tokenizer and the model's positions allow."""
    if config.frozen:
        return int(min(tokenizer.model_max_length, encoder.config.max_position_embeddings))
    return config.max_length


def _head(head) -> tuple[list[dict], dict]:
    """The head as a layer list (tomclip.json) and the state dict of the nn.Sequential it builds."""
    modules = [head] if isinstance(head, nn.Linear) else list(head)
    layers, state = [], {}
    for i, module in enumerate(modules):
        if isinstance(module, nn.Linear):
            layers.append(
                {
                    "type": "linear",
                    "in": module.in_features,
                    "out": module.out_features,
                    "bias": module.bias is not None,
                }
            )
            state[f"{i}.weight"] = module.weight.detach().float().contiguous().clone()
            if module.bias is not None:
                state[f"{i}.bias"] = module.bias.detach().float().contiguous().clone()
        elif isinstance(module, nn.GELU):
            layers.append({"type": "gelu", "approximate": module.approximate})
        else:
            raise TomclipError(
                f"The student's head holds a {type(module).__name__}, which the export does not describe."
            )
    return layers, state


def build_head(layers: list[dict]):
    """The nn.Sequential that tomclip.json's "head" describes (what docs/export.md writes out)."""
    built = {
        "linear": lambda l: nn.Linear(l["in"], l["out"], bias=l.get("bias", True)),
        "gelu": lambda l: nn.GELU(approximate=l.get("approximate", "none")),
    }
    return nn.Sequential(*(built[layer["type"]](layer) for layer in layers))


# ----------------------------------------------------------------------------- records for the card


def git_commit(root: Path | None = None) -> str:
    """HEAD's commit, with "+changes" when the working tree differs from it; "unknown" outside git."""
    root = root or paths.REPO_ROOT
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+changes" if dirty else "")


def _read_json(path: Path) -> dict | None:
    """A JSON file the export reads where present (a run's metrics, the data card, teacher.json), or None."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _teacher_pointer(profile: str) -> dict:
    """What notebook 02 recorded of the teacher (records.save_teacher_pointer), or {} without it."""
    return _read_json(paths.artifacts_dir(profile) / "teacher.json") or {}


def run_scores(profile: str, run) -> pd.DataFrame | None:
    """The run's rows of notebook 04's long tables (task, language, metric, value, ci_low, ci_high), or None."""
    frames = []
    for table, task in clip_benchmark.TABLES.items():
        path = paths.results_dir(profile) / f"{table}.csv"
        if not path.is_file():
            continue
        frame = pd.read_csv(path)
        seed = pd.to_numeric(frame["seed"], errors="coerce")
        mine = frame[
            (frame["model"] == run.variant)
            & (frame["setting"].astype(str) == str(run.setting))
            & (seed == int(run.seed))
        ]
        frames.append(mine.assign(task=task))
    return pd.concat(frames, ignore_index=True) if frames else None


def _percent(value: float) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def _scores_markdown(scores) -> list[str]:
    if scores is None or scores.empty:
        return [
            "No evaluation of this run was found (results/<profile>/zero_shot_long.csv and retrieval_long.csv "
            "are written by notebook 04_evaluate)."
        ]
    lines = []
    for task, group in scores.groupby("task", sort=False):
        metrics = list(dict.fromkeys(group["metric"]))
        lines += [
            f"**{task}** (%, 95% bootstrap interval in brackets)",
            "",
            "| language | " + " | ".join(metrics) + " |",
            "|---" * (len(metrics) + 1) + "|",
        ]
        for language, rows in group.groupby("language", sort=False):
            cells = {
                r.metric: f"{_percent(r.value)} [{_percent(r.ci_low)}, {_percent(r.ci_high)}]"
                for r in rows.itertuples()
            }
            lines.append(f"| {language} | " + " | ".join(cells.get(m, "") for m in metrics) + " |")
        lines.append("")
    return lines


def _data_markdown(card: dict | None) -> list[str]:
    if card is None:
        return ["The data card (results/<profile>/data_card.json, written by notebook 01_data) was not found."]
    lines = []
    rows = card.get("mclip_rows")
    if rows:
        lines.append(
            f"M-CLIP rows read: {rows.get('read')} of {rows.get('asked')} asked, {rows.get('kept')} kept as "
            f"caption pairs ({rows.get('source', '')})."
        )
    pairs = card.get("pairs_per_language") or []
    total = next((p for p in pairs if p.get("language") == "all"), None)
    if total:
        counts = ", ".join(f"{k}: {v:,}" for k, v in total.items() if k != "language")
        languages = [p["language"] for p in pairs if p.get("language") != "all"]
        lines.append(f"Caption pairs ({len(languages)} languages: {', '.join(languages)}): {counts}.")
    if card.get("images"):
        lines.append("Images: " + ", ".join(f"{k}: {v:,}" for k, v in card["images"].items()) + ".")
    assets = card.get("assets") or []
    if assets:
        lines += ["", "| asset | what | licence |", "|---|---|---|"]
        lines += [f"| {a.get('asset')} | {a.get('what')} | {a.get('license')} |" for a in assets]
    return lines


def model_card(profile: str, run, spec: dict, scores, data_card: dict | None, train: dict) -> str:
    """The README.md of an export (Hugging Face model card: YAML front matter, then Markdown); `train`
    is the training configuration the profile's runs share (records.load_train_config, as a dict)."""
    languages = []
    if data_card:
        languages = [p["language"] for p in data_card.get("pairs_per_language", []) if p.get("language") != "all"]
    front = [
        "---",
        "library_name: transformers",
        "pipeline_tag: feature-extraction",
        "tags: [tomclip, multilingual, clip, text-encoder, knowledge-distillation]",
    ]
    if languages:
        front.append("language: [" + ", ".join(languages) + "]")
    front.append("---")
    settings = {
        k: train.get(k)
        for k in (
            "lr",
            "backbone_lr",
            "weight_decay",
            "batch_size",
            "max_epochs",
            "warmup_steps",
            "patience",
            "sparsify",
            "mode",
            "amp",
        )
        if k in train
    }
    metrics = spec["run"].get("metrics") or {}
    student = spec["student"]
    lines = [
        *front,
        "",
        f"# {spec['run']['model']}: a multilingual text encoder distilled onto {spec['teacher']['description']}",
        "",
        f"Exported by tomclip {spec['tomclip_version']} (`python -m tomclip_lib.export`, `make export`) from the run "
        f"**{run_label(run)}** of profile `{profile}`, at commit `{spec['commit']}`. Written from the run's records; "
        "do not edit.",
        "",
        f"The student reads a caption in any of its languages and returns a {spec['out_dim']}-d embedding in the "
        f"teacher's space: the backbone `{student['backbone']}` ({student['trainable_layers']} layers trained), mean "
        f"pooling over the attention mask, then the head ({' -> '.join(l['type'] for l in spec['head'])}). "
        f"Texts get the prefix {spec['prefix']!r} and are cut at {spec['max_length']} tokens. Pair it with the "
        "teacher's image tower for zero-shot classification and retrieval.",
        "",
        "## Load it",
        "",
        "With transformers alone: the lines in tomclip's docs/export.md (`encoder`, `tokenizer`, `head`, `embed`)."
        + (
            " With open_clip, text and image towers together: "
            "`open_clip.create_model_and_transforms('local-dir:' + folder)` and "
            "`open_clip.get_tokenizer('local-dir:' + folder)` (open_clip_config.json names this folder by its "
            "absolute path; after moving it, `python -m tomclip_lib.export --repoint FOLDER`)."
            if spec.get("open_clip")
            else f" No open_clip configuration: {spec.get('open_clip_note', '')}"
        ),
        "",
        "## Training",
        "",
        f"Objective `{spec['run']['objective']}` (loss weights: {json.dumps(spec['run'].get('loss_weights'))}), "
        f"setting `{spec['run']['setting']}`, seed {spec['run']['seed']}"
        + (
            f"; best validation loss {metrics.get('best_validation'):.6g} at epoch {metrics.get('best_epoch')} of "
            f"{metrics.get('epochs')} ({metrics.get('steps')} steps)"
            if metrics.get("best_validation") is not None
            else ""
        )
        + ".",
        "",
        "Settings shared by the profile's runs: " + ", ".join(f"{k} {v}" for k, v in settings.items()) + ".",
        "",
        "## Data",
        "",
        *_data_markdown(data_card),
        "",
        "## Scores of this run",
        "",
        "Notebook 04_evaluate's scores of this run (one seed), with the teacher's frozen image tower:",
        "",
        *_scores_markdown(scores),
        "## Versions",
        "",
        ", ".join(f"{k} {v}" for k, v in spec["versions"].items()) + ".",
        "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- open_clip


def _open_clip_parts(
    profile: str, encoder, head_layers: list[dict], head_state: dict, folder: Path, max_length: int, prefix: str
) -> tuple[dict | None, dict | None, str]:
    """(open_clip_config.json, its weights, why not): the student as open_clip's text tower next to the
    teacher's image tower, where that is meaningful."""
    teacher_record = _teacher_pointer(profile)
    if teacher_record.get("kind") != records.PAPER:
        return (
            None,
            None,
            (
                "its teacher is the embedded profile's own CLIP (an image tower trained here on 32-pixel "
                "images), not an open_clip release; pair it through tomclip (docs/export.md)."
            ),
        )
    if [l["type"] for l in head_layers] != ["linear"]:
        return None, None, "open_clip's Hugging Face text tower takes one Linear projection, and this head is an MLP."
    if prefix:
        return None, None, f"the backbone expects the prefix {prefix!r}, which open_clip's tokenizer does not add."
    weight = head_state["0.weight"].double()
    bias = head_state.get("0.bias", torch.zeros(weight.shape[0], dtype=torch.float64)).double()
    shift = torch.linalg.lstsq(weight, bias.unsqueeze(1)).solution.squeeze(1)
    if float((weight @ shift - bias).norm()) > 1e-6 * max(1.0, float(bias.norm())):
        return None, None, "the head's bias cannot be moved into the encoder (its weight has no full row rank)."
    last = [
        name for name, module in encoder_layers(encoder)[-1].named_modules() if isinstance(module, torch.nn.LayerNorm)
    ]
    if not last:
        return None, None, "the encoder's last layer has no LayerNorm to carry the head's bias."
    layers = encoder_layers(encoder)
    layers_prefix = next(name for name, module in encoder.named_modules() if module is layers)
    ln_bias = f"{layers_prefix}.{len(layers) - 1}.{last[-1]}.bias"
    architecture = teacher_record.get("model", "ViT-B-32")
    name = architecture
    if architecture.endswith(".json"):
        open_clip.add_model_config(architecture)
        name = Path(architecture).stem
    base = open_clip.get_model_config(name)
    if base is None or base.get("embed_dim") != weight.shape[0]:
        return (
            None,
            None,
            f"the teacher's open_clip architecture {architecture!r} does not embed in {weight.shape[0]} dimensions.",
        )
    teacher = records.load_teacher(profile)
    visual = teacher.model.visual
    model_cfg = {
        "embed_dim": base["embed_dim"],
        "vision_cfg": copy.deepcopy(base["vision_cfg"]),
        "quick_gelu": any(isinstance(m, QuickGELU) for m in visual.modules()),
        "text_cfg": {
            "hf_model_name": str(folder.resolve()),
            "hf_tokenizer_name": str(folder.resolve()),
            "hf_pooler_type": "mean_pooler",
            "hf_proj_type": "linear",
            "context_length": max_length,
        },
    }
    preprocess = {
        k: (list(v) if isinstance(v, tuple) else v) for k, v in (getattr(visual, "preprocess_cfg", None) or {}).items()
    }
    config = {
        "model_cfg": model_cfg,
        "preprocess_cfg": preprocess,
        "tomclip": {"teacher": teacher_record, "bias_moved_into": f"text.transformer.{ln_bias}"},
    }
    state = {
        f"text.transformer.{k}": v.detach().float().cpu().contiguous().clone() for k, v in encoder.state_dict().items()
    }
    state[f"text.transformer.{ln_bias}"] = (state[f"text.transformer.{ln_bias}"].double() + shift).float()
    state["text.proj.weight"] = head_state["0.weight"].clone()
    state.update({f"visual.{k}": v.detach().float().cpu().contiguous().clone() for k, v in visual.state_dict().items()})
    state["logit_scale"] = teacher.model.logit_scale.detach().float().cpu().reshape(()).clone()
    return config, state, ""


def repoint(folder: str | Path) -> Path:
    """After moving an export: its open_clip_config.json names the folder where it now is."""
    folder = Path(folder).resolve()
    path = folder / OPEN_CLIP_CONFIG
    if not path.is_file():
        raise TomclipError(f"{folder} has no {OPEN_CLIP_CONFIG}: nothing to re-point.")
    config = json.loads(path.read_text(encoding="utf-8"))
    config["model_cfg"]["text_cfg"]["hf_model_name"] = config["model_cfg"]["text_cfg"]["hf_tokenizer_name"] = str(
        folder
    )
    write_json(path, config)
    return path


# ----------------------------------------------------------------------------- the export


def export_student(profile: str, run, folder: str | Path) -> Path:
    """Write the trained student of `run` (a row of `records.load_runs(profile)[0].itertuples()`) to
    `folder`, which must not exist: encoder and tokenizer (save_pretrained), head, tomclip.json, model
    card, and open_clip's files where they mean something (module docstring). Atomic: on any error
    nothing is left at `folder`. Returns the folder."""
    folder = Path(folder)
    if folder.exists():
        raise TomclipError(
            f"{folder} exists already; the export writes a new folder only. Remove it or choose "
            "another (make export ... OUT=FOLDER)."
        )
    student = _student(profile, run)
    encoder, tokenizer = _encoder(student)
    head_layers, head_state = _head(student.head)
    config = student.config
    teacher_record = _teacher_pointer(profile)
    metrics = _read_json(Path(run.run_dir) / "metrics.json")
    objective = getattr(run, "objective", run.variant)
    factor, chosen = records.load_balance(profile)
    weights = (
        chosen
        if "chosen" in run.variant and chosen
        else scaled_weights(objective, factor)
        if objective in VARIANTS
        else None
    )
    spec = {
        "format": EXPORT_FORMAT,
        "tomclip_version": __version__,
        "commit": git_commit(),
        "pooling": "mean",
        "normalize": True,
        "prefix": config.prefix,
        "max_length": _max_length(config, encoder, tokenizer),
        "out_dim": head_layers[-1]["out"],
        "head": head_layers,
        "student": {**asdict(config), "trainable_layers": config.trainable_layers},
        "teacher": {
            **teacher_record,
            "description": (
                "OpenAI CLIP " + str(teacher_record.get("model", "ViT-B-32"))
                if teacher_record.get("kind") == records.PAPER
                else "the embedded profile's CLIP (MiniLM text tower)"
            ),
        },
        "run": {
            "profile": profile,
            "model": run.variant,
            "objective": objective,
            "setting": run.setting,
            "seed": int(run.seed),
            "folder": Path(run.run_dir).name,
            "metrics": metrics,
            "loss_weights": weights,
            "balance_factor": factor,
        },
        "versions": {"tomclip": __version__, "torch": torch.__version__, "transformers": transformers.__version__},
    }
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        encoder.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        save_file(head_state, str(tmp / HEAD))
        open_config, open_state, note = _open_clip_parts(
            profile, encoder, head_layers, head_state, folder, spec["max_length"], config.prefix
        )
        if open_config is not None:
            write_json(tmp / OPEN_CLIP_CONFIG, open_config)
            save_file(open_state, str(tmp / OPEN_CLIP_WEIGHTS))
            spec["open_clip"] = {"config": OPEN_CLIP_CONFIG, "weights": OPEN_CLIP_WEIGHTS}
        else:
            spec["open_clip_note"] = note
        write_json(tmp / SPEC, spec)
        scores = run_scores(profile, run)
        card = model_card(
            profile,
            run,
            spec,
            scores,
            _read_json(paths.results_dir(profile) / "data_card.json"),
            asdict(records.load_train_config(profile)),
        )
        (tmp / CARD).write_text(card, encoding="utf-8")
    return folder


class ExportedStudent:
    """An export loaded back with transformers and safetensors only (the lines of docs/export.md)."""

    def __init__(self, folder: str | Path, device: str = "cpu"):
        folder = Path(folder)
        self.spec = json.loads((folder / SPEC).read_text(encoding="utf-8"))
        self.encoder = AutoModel.from_pretrained(folder, add_pooling_layer=False).to(device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.head = build_head(self.spec["head"]).to(device).eval()
        self.head.load_state_dict(load_file(str(folder / HEAD)))
        self.device = device

    def encode(self, texts: list[str], batch_size: int = 256):
        """L2-normalised embeddings (numpy, float32), as Student.encode gives them."""
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(
                    [self.spec["prefix"] + t for t in texts[start : start + batch_size]],
                    padding=True,
                    truncation=True,
                    max_length=self.spec["max_length"],
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.encoder(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                ).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1)
                out.append(torch.nn.functional.normalize(self.head(pooled).float(), dim=-1).cpu())
        return torch.cat(out).numpy()


# ----------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export a trained student of a profile (tomclip_lib/export.py).")
    parser.add_argument("profile", nargs="?", help="the profile whose notebook 03 trained the run")
    parser.add_argument("--model", default="ToMCLIP", help="the run's model, as in the runs table (default ToMCLIP)")
    parser.add_argument("--setting", help="full or low (default: full where trained)")
    parser.add_argument("--seed", type=int, help="default: the lowest")
    parser.add_argument(
        "--out", help="the folder to write (default build/export/<profile>/<model>-<setting>-seed<seed>)"
    )
    parser.add_argument("--repoint", metavar="FOLDER", help="only re-point a moved export's open_clip_config.json")
    args = parser.parse_args(argv)
    try:
        if args.repoint:
            print(f"re-pointed {repoint(args.repoint)}")
            return 0
        if not args.profile:
            parser.error("a profile is needed")
        run = find_run(args.profile, args.model, args.setting, args.seed)
        out = (
            Path(args.out)
            if args.out
            else (
                paths.REPO_ROOT
                / "build"
                / "export"
                / args.profile
                / clip_benchmark.slug(f"{run.variant}-{run.setting}-seed{int(run.seed)}")
            )
        )
        print(f"exporting {run_label(run)} of profile {args.profile} to {out} ...", flush=True)
        export_student(args.profile, run, out)
    except TomclipError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {out}: load it as docs/export.md shows; its model card is {out / CARD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
