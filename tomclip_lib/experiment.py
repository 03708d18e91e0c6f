"""The experiment of the paper, assembled: distillation data, the grid of student runs, the tables.

Notebooks 03 and 04 call these; each run is cached under artifacts/<profile>/students/ with a key
that covers its configuration and data, so re-running evaluation never retrains and a changed
parameter retrains only what it changes.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import distributed, evaluate, paths
from .data.classnames import prompts
from .data.corpus import split_pairs
from .data.embedded import RetrievalSet, ZeroShotSet, retrieval_set, teacher_training_set
from .errors import TomclipError
from .evaluate import RetrievalQueries
from .io import write_json, write_text
from .models.student import Student, StudentConfig
from .models.teacher import Teacher, prepare_embedded_teacher
from .train import GRID, METRICS, VARIANTS, DistillationSplit, TrainConfig, train_student, write_grid

TEACHER_BASELINE = "CLIP (teacher text encoder)"


def fingerprint(*texts_lists) -> str:
    digest = hashlib.sha256()
    for texts in texts_lists:
        digest.update("\x1f".join(texts).encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()[:16]


def distillation_splits(corpus: pd.DataFrame, student_config: StudentConfig, targets_of, setting: str
                        ) -> tuple[DistillationSplit, DistillationSplit, str]:
    """Training and validation pairs of one setting: student inputs, the teacher's targets, a key.

    With a frozen backbone the inputs are its cached pooled features of the translated captions,
    else the captions; `targets_of(pairs)` gives the targets of a split's rows.
    """
    probe = Student(student_config) if student_config.frozen else None
    splits, digest = [], hashlib.sha256()
    for split in (split_pairs(corpus, "train", setting), split_pairs(corpus, "validation")):
        texts, english = list(split["text"]), list(split["en"])
        inputs = probe.cached_features(texts) if probe else texts
        targets = torch.from_numpy(np.ascontiguousarray(targets_of(split)))
        splits.append(DistillationSplit(inputs, targets))
        # The key covers the numbers themselves, so changed features retrain what depends on them.
        digest.update(fingerprint(texts, english).encode())
        digest.update(inputs.numpy().tobytes() if isinstance(inputs, torch.Tensor) else b"texts")
        digest.update(targets.numpy().tobytes())
    return splits[0], splits[1], digest.hexdigest()[:16]


def trained_with_topology(model: str) -> bool:
    """Whether a model's objective has a topological term (its results then hinge on discrete
    choices: spanning-tree edges, kept edges); False for MCLIP and for encoders not trained here."""
    weights = VARIANTS.get(model, {})
    return any(value for name, value in weights.items() if name != "pointwise")


def run_dir(profile: str, config: TrainConfig, student_config: StudentConfig, data_key: str) -> Path:
    name = f"{config.variant}-{config.setting}-seed{config.seed}-{config.key(repr(student_config), data_key)}"
    return paths.artifacts_dir(profile) / "students" / name.replace("(", "_").replace(")", "")


def train_grid(profile: str, base: TrainConfig, student_config: StudentConfig, variants: list[str],
               seeds: dict[str, list[int]], data: dict[str, tuple[DistillationSplit, DistillationSplit, str]],
               progress: bool = True, processes: int = 1) -> pd.DataFrame:
    """Train (or load) every (setting, variant, seed); one row per run with its folder and scores.

    With processes > 1, torchrun first trains the unfinished runs on that many processes (one per
    GPU; the batch is the global batch, docs/training-at-scale.md), and this loop then loads them.
    """
    if processes != 1:
        _train_under_torchrun(profile, base, student_config, variants, seeds, data, processes)
    rows = []
    for config, folder in _grid(profile, base, student_config, variants, seeds, data):
        train, validation, _ = data[config.setting]
        result = train_student(config, Student(student_config, seed=config.seed), train, validation, folder,
                               progress=progress)
        rows.append(dict(variant=config.variant, setting=config.setting, seed=config.seed,
                         best_validation=result.best_validation, best_epoch=result.best_epoch, epochs=result.epochs,
                         seconds=result.seconds, run_dir=str(folder)))
    return pd.DataFrame(rows)


def _grid(profile: str, base: TrainConfig, student_config: StudentConfig, variants: list[str],
          seeds: dict[str, list[int]], data: dict[str, tuple[DistillationSplit, DistillationSplit, str]]):
    """Every run of the grid, (configuration, folder), in the order the tables list them."""
    for setting, (_, _, data_key) in data.items():
        for variant in variants:
            for seed in seeds[setting]:
                config = replace(base, variant=variant, setting=setting, seed=seed)
                yield config, run_dir(profile, config, student_config, data_key)


def _train_under_torchrun(profile: str, base: TrainConfig, student_config: StudentConfig, variants: list[str],
                          seeds: dict[str, list[int]], data: dict[str, tuple[DistillationSplit, DistillationSplit, str]],
                          processes: int) -> None:
    distributed.check_batch_size(base.batch_size, processes)
    pending = [(config, folder) for config, folder in _grid(profile, base, student_config, variants, seeds, data)
               if not (folder / METRICS).exists()]
    if pending:
        grid = write_grid(paths.artifacts_dir(profile) / "students" / GRID, student_config, pending,
                          {setting: (train, validation) for setting, (train, validation, _) in data.items()})
        distributed.launch(["tomclip_lib.train", str(grid)], processes)
        grid.unlink()  # a copy of the pairs (gigabytes in the paper profile): the runs are in their folders now


def save_runs(profile: str, runs: pd.DataFrame, student_config: StudentConfig, base: TrainConfig) -> None:
    """Record the trained runs, the student's configuration and the training configuration they
    share, for the notebooks that evaluate them (04, 06, 08) and vary it (05)."""
    write_json(paths.artifacts_dir(profile) / "students.json",
               {"student": asdict(student_config), "train": asdict(base), "runs": runs.to_dict(orient="records")})


def _students_record(profile: str) -> dict:
    path = paths.artifacts_dir(profile) / "students.json"
    if not path.exists():
        raise TomclipError(f"No trained students for profile {profile!r}: run notebook 03_train first "
                           f"(make paper PROFILE={profile} runs the notebooks in order).")
    return json.loads(path.read_text())


def load_runs(profile: str) -> tuple[pd.DataFrame, StudentConfig]:
    """The runs that notebook 03 trained for `profile`, and their student configuration."""
    record = _students_record(profile)
    return pd.DataFrame(record["runs"]), StudentConfig(**record["student"])


def load_train_config(profile: str) -> TrainConfig:
    """The training configuration shared by notebook 03's runs (its variant, setting and seed are
    placeholders: each run replaced them)."""
    record = _students_record(profile)
    if "train" not in record:
        raise TomclipError(f"{paths.artifacts_dir(profile) / 'students.json'} predates the recorded training "
                           f"configuration: run notebook 03_train again (its runs are reused, nothing retrains).")
    return TrainConfig(**record["train"])


def load_student(student_config: StudentConfig, run_dir: str | Path) -> Student:
    student = Student(student_config)
    student.load_trainable_state(torch.load(Path(run_dir) / "best.pt", weights_only=True))
    return student.eval()


def _encoders(runs: pd.DataFrame, student_config: StudentConfig, teacher: Teacher):
    """(model, setting, seed, text encoder) for the teacher baseline and every student run."""
    yield TEACHER_BASELINE, "-", None, teacher.encode_texts
    for run in runs.itertuples():
        yield run.variant, run.setting, run.seed, load_student(student_config, run.run_dir).encode


def zero_shot_table(runs: pd.DataFrame, student_config: StudentConfig, teacher: Teacher, images: ZeroShotSet,
                    image_embeddings: np.ndarray, languages: list[str], n_boot: int = 10_000) -> pd.DataFrame:
    """Zero-shot top-1/top-5 per language for the teacher baseline and every student run, plus the average."""
    rows = []
    for model, setting, seed, encode in _encoders(runs, student_config, teacher):
        for lang in languages:
            classes = encode(prompts(images.dataset, lang))
            rows += evaluate.zero_shot_rows(image_embeddings, classes, images.labels, model=model, setting=setting,
                                            language=lang, seed=seed, n_boot=n_boot)
    return evaluate.language_average(pd.DataFrame(rows, columns=evaluate.TABLE_COLUMNS))


def retrieval_table(runs: pd.DataFrame, student_config: StudentConfig, teacher: Teacher, items: RetrievalSet,
                    image_embeddings: np.ndarray, languages: list[str], n_boot: int = 10_000) -> pd.DataFrame:
    """Recall@1/5/10 both ways per language, plus macro (mean of languages) and micro (pooled) averages."""
    rows = []
    for model, setting, seed, encode in _encoders(runs, student_config, teacher):
        pooled: dict[tuple[str, int], list[np.ndarray]] = {}
        for lang in languages:
            captions = encode(list(items.captions[lang]))
            rows += evaluate.retrieval_rows(captions, image_embeddings, model=model, setting=setting,
                                            language=lang, seed=seed, n_boot=n_boot)
            for key, hits in evaluate.retrieval_hits(captions, image_embeddings).items():
                pooled.setdefault(key, []).append(hits)
        for (direction, k), hits in pooled.items():
            hits = np.concatenate(hits)
            low, high = evaluate.bootstrap_interval(hits, n_boot)
            rows.append(dict(model=model, setting=setting, language="micro", metric=f"{direction} R@{k}",
                             value=float(hits.mean()), ci_low=low, ci_high=high, seed=seed))
    table = pd.DataFrame(rows, columns=evaluate.TABLE_COLUMNS)
    per_language = table[table["language"] != "micro"]
    macro = evaluate.language_average(per_language, "macro")
    return pd.concat([macro, table[table["language"] == "micro"]], ignore_index=True)


def wide_table(table: pd.DataFrame, metric: str, setting: str, languages: list[str], digits: int = 1) -> pd.DataFrame:
    """Models x languages for one metric and setting, in percent; mean +- sd where there are seeds."""
    chosen = table[(table["metric"] == metric) & (table["setting"].isin([setting, "-"]))]
    summary = evaluate.summarize_seeds(chosen)
    cells = summary.assign(cell=[f"{100 * m:.{digits}f}" if not (s == s) or n < 2 else f"{100 * m:.{digits}f} ± {100 * s:.{digits}f}"
                                 for m, s, n in zip(summary["mean"], summary["sd"], summary["seeds"])])
    wide = cells.pivot(index="model", columns="language", values="cell")
    order = [m for m in dict.fromkeys(chosen["model"])]
    columns = [c for c in languages + ["avg", "macro", "micro"] if c in wide.columns]
    return wide.loc[order, columns].reset_index()


def english_reference(teacher: Teacher, images: ZeroShotSet, items: RetrievalSet, n_boot: int = 10_000) -> pd.DataFrame:
    """The teacher in English: zero-shot top-1/top-5 and retrieval recall, with 95% intervals."""
    image_embeddings = teacher.cached_image_embeddings("zero-shot", images.images)
    classes = teacher.encode_texts(prompts(images.dataset, "en"))
    zero_shot = pd.DataFrame(evaluate.zero_shot_rows(image_embeddings, classes, images.labels, model=TEACHER_BASELINE,
                                                     setting="-", language="en", seed=None, n_boot=n_boot))
    recall = evaluate.retrieval_recall(teacher.encode_texts(list(items.captions["en"])),
                                       teacher.cached_image_embeddings("retrieval", items.images), n_boot=n_boot)
    table = pd.concat([zero_shot.assign(task="zero-shot"), recall.assign(task="retrieval")], ignore_index=True)
    return table[["task", "metric", "value", "ci_low", "ci_high"]]


def compare_to_mclip(zero_shot: pd.DataFrame, retrieval: pd.DataFrame) -> pd.DataFrame:
    """Each model's language-averaged score against MCLIP's, paired by seed, per setting and task.

    A model "beats MCLIP" when it is ahead for every seed; the table says so plainly either way.
    """
    measures = [("zero-shot top-1", zero_shot, "avg", "top1"),
                ("retrieval text->image R@1", retrieval, "macro", "text_to_image R@1")]
    rows = []
    for task, table, average, metric in measures:
        chosen = table[(table["language"] == average) & (table["metric"] == metric) & (table["setting"] != "-")]
        for setting, part in chosen.groupby("setting", sort=False):
            scores = part.pivot_table(index="seed", columns="model", values="value")
            if "MCLIP" not in scores:
                continue
            for model in [m for m in scores.columns if m != "MCLIP"]:
                difference = 100 * (scores[model] - scores["MCLIP"])
                rows.append({"setting": setting, "task": task, "model": model, "score": 100 * scores[model].mean(),
                             "MCLIP": 100 * scores["MCLIP"].mean(), "difference": difference.mean(),
                             "sd": difference.std() if len(difference) > 1 else float("nan"), "seeds": len(difference),
                             "beats MCLIP": "yes" if (difference > 0).all() else "no"})
    return pd.DataFrame(rows)


def summary_scores(student, teacher: Teacher, images: ZeroShotSet, test: RetrievalQueries,
                   validation: RetrievalQueries, languages: list[str]) -> dict[str, float]:
    """One run's headline numbers, averaged over languages: validation and test retrieval R@1
    (text -> gallery) and zero-shot top-1. Validation numbers are the only ones to choose settings by."""
    zero_shot_images = teacher.cached_image_embeddings("zero-shot", images.images)
    return {"validation R@1": validation.recall_at_1(student.encode), "retrieval R@1": test.recall_at_1(student.encode),
            "zero-shot top-1": float(np.mean([evaluate.zero_shot_accuracy(
                zero_shot_images, student.encode(prompts(images.dataset, lang)), images.labels, topk=(1,))["top1"]
                for lang in languages]))}


def ablation(profile: str, name: str, settings: list[tuple[str, TrainConfig]], seeds: list[int],
             student_config: StudentConfig, data: tuple[DistillationSplit, DistillationSplit, str], teacher: Teacher,
             images: ZeroShotSet, test: RetrievalQueries, validation: RetrievalQueries, languages: list[str]
             ) -> pd.DataFrame:
    """Train (or load) each labelled configuration with each seed and score it; one row per run.

    Runs share the cache of notebook 03: a configuration trained there is not trained again.
    """
    train, valid, data_key = data
    rows = []
    for label, config in settings:
        for seed in seeds:
            config_seed = replace(config, seed=seed)
            student = Student(student_config, seed=seed)
            result = train_student(config_seed, student, train, valid, run_dir(profile, config_seed, student_config, data_key))
            steps = json.loads((result.run_dir / "metrics.json").read_text())["steps"]
            rows.append({"ablation": name, "setting": label, "seed": seed, "epochs": result.epochs,
                         "ms per step": 1000 * result.seconds / max(steps, 1),
                         **summary_scores(student, teacher, images, test, validation, languages)})
    return pd.DataFrame(rows)


def best_setting(summary: pd.DataFrame, metric: str = "validation R@1 mean") -> tuple[pd.Series, list[str]]:
    """The row with the highest `metric` and the settings tied with it. Ties go to the first row in
    the table's own order (an explicit rule: an unstable sort would pick by memory layout)."""
    best = summary[metric].max()
    tied = summary[summary[metric] == best]
    return tied.iloc[0], list(tied["setting"].iloc[1:])


def describe_best(summary: pd.DataFrame, metric: str = "validation R@1 mean") -> str:
    """'<setting> (validation R@1 10.9)', naming any setting tied with it."""
    row, tied = best_setting(summary, metric)
    return f"{row['setting']} ({metric.removesuffix(' mean')} {row[metric]:.1f}" + (
        f"; tied with {', '.join(tied)})" if tied else ")")


def ablation_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over seeds of each setting's scores (percent) and its cost per step."""
    metrics = ["validation R@1", "retrieval R@1", "zero-shot top-1"]
    grouped = runs.groupby("setting", sort=False)
    table = pd.DataFrame({"seeds": grouped["seed"].count()})
    for metric in metrics:
        table[f"{metric} mean"] = 100 * grouped[metric].mean()
        table[f"{metric} sd"] = 100 * grouped[metric].std()
    table["ms per step"] = grouped["ms per step"].median()
    return table.reset_index()


TEACHER_ABLATION_COLUMNS = ["setting", "seeds", "zero-shot top-1 mean", "zero-shot top-1 sd", "retrieval R@1 mean",
                            "retrieval R@1 sd"]


def teacher_toma_ablation(profile: str, teacher: Teacher, corpus: pd.DataFrame, images: ZeroShotSet,
                          toma_weight: float, caption_fraction: float, seeds: list[int]) -> pd.DataFrame:
    """ToMA in the teacher's own image-text training: the teacher of notebook 02 retrained with and
    without it, with every caption (first seed) and with `caption_fraction` of them (every seed),
    scored in English (zero-shot top-1, text -> image R@1 of the held-out emoji); mean and sd over
    seeds, in percent. A teacher loaded as published (the paper profile's CLIP) has no training
    here to vary: the table is then empty.
    """
    if teacher.config is None:
        return pd.DataFrame(columns=TEACHER_ABLATION_COLUMNS)
    items = retrieval_set(corpus, teacher.image_size)
    config = teacher.config
    training = teacher_training_set(corpus, config.image_size, config.fashion_per_epoch, config.emoji_repeats)
    rows = []
    for fraction, fraction_seeds in ((1.0, seeds[:1]), (caption_fraction, seeds)):
        for label, weight in (("contrastive", 0.0), ("+ ToMA", toma_weight)):
            for seed in fraction_seeds:
                variant = replace(config, caption_fraction=fraction, toma_weight=weight, seed=seed)
                trained, _ = prepare_embedded_teacher(profile, variant, training.images,
                                                      training.captions, training.weights, log=lambda message: None,
                                                      make_default=False)
                classes = trained.encode_texts(prompts(images.dataset, "en"))
                zero_shot = evaluate.zero_shot_accuracy(trained.cached_image_embeddings("zero-shot", images.images),
                                                        classes, images.labels, topk=(1,))["top1"]
                hits = evaluate.retrieval_hits(trained.encode_texts(list(items.captions["en"])),
                                               trained.cached_image_embeddings("retrieval", items.images), ks=(1,))
                rows.append({"setting": f"{100 * fraction:g}% captions, {label}", "seed": seed,
                             "zero-shot top-1": zero_shot, "retrieval R@1": float(hits[("text_to_image", 1)].mean())})
    runs = pd.DataFrame(rows)
    grouped = runs.groupby("setting", sort=False)
    summary = pd.DataFrame({"seeds": grouped["seed"].count()})
    for metric in ("zero-shot top-1", "retrieval R@1"):
        summary[f"{metric} mean"] = 100 * grouped[metric].mean()
        summary[f"{metric} sd"] = 100 * grouped[metric].std()
    return summary.reset_index()[TEACHER_ABLATION_COLUMNS]


def seed_spread(table: pd.DataFrame, average: str, metric: str, setting: str = "low") -> pd.DataFrame:
    """Per model: mean and sd over seeds of a language-averaged score (percent): the stability of
    each objective."""
    chosen = table[(table["language"] == average) & (table["metric"] == metric) & (table["setting"] == setting)]
    grouped = chosen.groupby("model", sort=False)["value"]
    stats = grouped.agg(["mean", "std", "min", "max"]) * 100
    stats["seeds"] = grouped.count()
    return stats.rename(columns={"std": "sd"}).reset_index()


def write_findings(profile: str) -> str:
    """Sentences that state what the tables of a profile show, with their numbers, written to
    results/<profile>/findings.md; computed from the result files, so they change with them."""
    folder = paths.results_dir(profile)

    def read(name: str) -> pd.DataFrame | None:
        path = folder / f"{name}.csv"
        return pd.read_csv(path) if path.exists() else None

    lines = []
    verdicts = read("tomclip_vs_mclip")
    if verdicts is not None:
        winners = verdicts[verdicts["beats MCLIP"] == "yes"]
        lines.append("- At the weights of notebook 03 (0.01 for each topological term, the paper's), " + (
            "no topological variant beats MCLIP in any setting or task (language averages, every seed)."
            if winners.empty else "these beat MCLIP on every seed: " + "; ".join(
                f"{r.model} ({r.setting}, {r.task}, {r.difference:+.1f} points)" for r in winners.itertuples()) + "."))
        low = verdicts[(verdicts["setting"] == "low") & (verdicts["task"].str.startswith("retrieval"))]
        if len(low):
            lines.append("- Low-resource retrieval R@1, difference to MCLIP in points: " + ", ".join(
                f"{r.model} {r.difference:+.1f} ± {r.sd:.1f}" for r in low.itertuples()) + ".")
    weights = read("ablation_weights")
    if weights is not None:
        best, _ = best_setting(weights)
        mclip = weights[weights["setting"].str.startswith("MCLIP")].iloc[0]
        lines.append(f"- Loss weights: the validation emoji pick \"{best['setting']}\"; on the test emoji it scores "
                     f"{best['retrieval R@1 mean']:.1f} ± {best['retrieval R@1 sd']:.1f} R@1 against MCLIP's "
                     f"{mclip['retrieval R@1 mean']:.1f} ± {mclip['retrieval R@1 sd']:.1f}. Weights of 0.01 collapse the "
                     "student here: with unit-norm 384-d targets the point-wise MSE is small, and the distance-matrix "
                     "term dominates it.")
    batch = read("ablation_batch_size")
    if batch is not None:
        batch["model"] = batch["setting"].str.split(",").str[0]
        batch["size"] = batch["setting"].str.split("batch ").str[1].astype(int)
        pivot = batch.pivot(index="size", columns="model", values="retrieval R@1 mean")
        if {"MCLIP", "ToMCLIP"} <= set(pivot.columns):
            gaps = (pivot["ToMCLIP"] - pivot["MCLIP"]).round(1)
            lines.append("- Batch size, ToMCLIP (paper weights) minus MCLIP in test R@1 points: " + ", ".join(
                f"{size}: {gap:+.1f}" for size, gap in gaps.items()) + ".")
    mode = read("ablation_mode")
    if mode is not None and len(mode) == 2:
        exact, reference = mode.iloc[0], mode.iloc[1]
        lines.append(f"- L_ta exact versus the reference's sliced estimate: test R@1 {exact['retrieval R@1 mean']:.1f} ± "
                     f"{exact['retrieval R@1 sd']:.1f} against {reference['retrieval R@1 mean']:.1f} ± "
                     f"{reference['retrieval R@1 sd']:.1f}; cost {exact['ms per step']:.0f} against "
                     f"{reference['ms per step']:.0f} ms per step.")
    teacher = read("ablation_teacher_toma")
    if teacher is not None:
        lines.append("- ToMA in the teacher's training, English retrieval R@1 of held-out emoji: " + "; ".join(
            f"{r['setting']} {r['retrieval R@1 mean']:.1f}" for _, r in teacher.iterrows()) + " (%).")
    spread = read("seed_spread_retrieval")
    if spread is not None and spread["sd"].notna().any():
        steady = spread.sort_values("sd", kind="stable").iloc[0]
        lines.append(f"- Spread over seeds (low-resource retrieval R@1): smallest for {steady['model']} "
                     f"(sd {steady['sd']:.2f} points); " + ", ".join(f"{r.model} {r.sd:.2f}" for r in spread.itertuples()) + ".")
    geometry = read("geometry_predictiveness")
    if geometry is not None and len(geometry) == 2:
        local, global_ = geometry["median Spearman"]
        lines.append(f"- Effective dimension and retrieval: median Spearman within spaces, across clusters, {local:.2f}; "
                     f"across spaces, globally, {global_:.2f}. "
                     + ("Local predicts retrieval more strongly than global here, as the seed paper found."
                        if abs(local) > abs(global_) else "Here the global measure is the stronger predictor, unlike the seed paper's finding."))
    text = "\n".join(lines) + "\n"
    write_text(folder / "findings.md", text)
    return text
