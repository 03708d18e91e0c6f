"""The experiment of the paper, assembled: distillation data, the grid of student runs, the tables.

Notebooks 03 and 04 call these; each run is cached under artifacts/<profile>/students/ with a key
that covers its configuration and data, so re-running evaluation never retrains and a changed
parameter retrains only what it changes.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
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
from .models.student import TOP_LAYERS_VERSION, Student, StudentConfig
from .models.teacher import Teacher, prepare_embedded_teacher
from .topology import ENGINE_VERSION
from .train import GRID, METRICS, TRAINING_VERSION, VARIANTS, DistillationSplit, TrainConfig, train_student, write_grid

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

    With a frozen backbone the inputs are its cached pooled features of the translated captions;
    when its top k layers train, the cached token states that enter them; when all of it trains,
    the captions. `targets_of(pairs)` gives the targets of a split's rows.
    """
    probe = None if student_config.trainable_layers == "all" else Student(student_config)
    splits, digest = [], hashlib.sha256()
    for split in (split_pairs(corpus, "train", setting), split_pairs(corpus, "validation")):
        texts, english = list(split["text"]), list(split["en"])
        inputs = (texts if probe is None else probe.cached_features(texts) if student_config.frozen
                  else probe.cached_inputs(texts))
        targets = torch.from_numpy(np.ascontiguousarray(targets_of(split)))
        groups = torch.from_numpy(pd.factorize(split["en"])[0].astype(np.int64))  # rows of one English caption
        splits.append(DistillationSplit(inputs, targets, groups))
        # The key covers the numbers themselves, so changed features retrain what depends on them.
        digest.update(fingerprint(texts, english).encode())
        digest.update(inputs.numpy().tobytes() if isinstance(inputs, torch.Tensor) else b"texts")
        digest.update(targets.numpy().tobytes())
    return splits[0], splits[1], digest.hexdigest()[:16]


def trained_with_topology(model: str) -> bool:
    """Whether a model's objective has a topological term (its results then hinge on discrete
    choices: spanning-tree edges, kept edges); False for MCLIP and for encoders not trained here.
    A table's name is its objective, or the objective and a note in brackets ("ToMCLIP (chosen)")."""
    weights = VARIANTS.get(model.split(" (")[0], {})
    return any(value for name, value in weights.items() if name != "pointwise")


@dataclass(frozen=True)
class Model:
    """One row of the main tables: its name, its objective (train.VARIANTS) with the weights that
    replace the objective's own, how many backbone layers of the student train (None: as many as
    the grid's student configuration says), the settings it is trained in, and the training
    settings that are its own (e.g. its epochs and learning rates)."""

    name: str
    variant: str
    weights: dict = field(default_factory=dict)
    trainable_layers: int | str | None = None
    settings: tuple[str, ...] = ("full", "low")
    training: dict = field(default_factory=dict)  # TrainConfig fields that differ from the grid's


#: The reference trains on CLIP ViT-B/32 text features, 512-d, not normalised (M-CLIP's targets).
REFERENCE_DIM = 512


def balance_factor(targets: torch.Tensor, reference_norm: float | None, reference_dim: int = REFERENCE_DIM) -> float:
    """By how much a topological weight must be multiplied here to weigh what it weighs in the paper.

    The point-wise MSE grows with the mean squared target entry; L_dm and L_ta compare
    max-normalised distances and do not. Multiplying the targets by c multiplies L_pw by c^2, so
    L_pw + w L_top on targets of mean squared entry E_ref is E_ref / E times L_pw + w' L_top on ours
    with w' = w E / E_ref (a constant factor, which Adam's updates ignore). E_ref = norm^2 / 512 for
    reference targets of norm `reference_norm`; None: the targets are the reference's own (factor 1).
    """
    if reference_norm is None:
        return 1.0
    if not reference_norm > 0:
        raise TomclipError(f"reference_target_norm must be positive (or None: the targets are the reference's), "
                           f"got {reference_norm!r}.")
    return float(targets.double().square().mean()) / (reference_norm**2 / reference_dim)


def scaled_weights(variant: str, factor: float) -> dict[str, float]:
    """The objective's weights with every term but the point-wise one multiplied by `factor`."""
    return {name: value if name == "pointwise" else value * factor for name, value in VARIANTS[variant].items()}


def main_models(variants: list[str], full_variants: list[str], factor: float, chosen: dict[str, float] | None,
                top_layers: int, top_layer_variants: list[str], top_layer_training: dict | None = None) -> list[Model]:
    """The models of the main tables: each variant at the paper's weights balanced for our targets
    (`factor`, balance_factor), in both settings if it is among `full_variants`, else low-resource
    only; ToMCLIP at the weights validation chose ("ToMCLIP (chosen)"), in both; and, low-resource,
    `top_layer_variants` with the top `top_layers` backbone layers trained, with the training
    settings `top_layer_training` (TrainConfig fields: epochs, warm-up, the backbone's learning rate)."""
    models = [Model(name, name, scaled_weights(name, factor), settings=("full", "low") if name in full_variants else ("low",))
              for name in variants]
    if chosen is not None:
        models.append(Model("ToMCLIP (chosen)", "ToMCLIP", chosen))
    if top_layers:
        models += [Model(f"{name} (top layer{'s' if top_layers > 1 else ''})", name, scaled_weights(name, factor),
                         top_layers, ("low",), dict(top_layer_training or {})) for name in top_layer_variants]
    return models


def distillation_data(profile: str, corpus: pd.DataFrame, student_config: StudentConfig, models: list[Model]
                      ) -> dict[tuple[int, str], tuple[DistillationSplit, DistillationSplit, str]]:
    """The pairs of every (trainable layers, setting) the models need: the student's inputs differ
    (pooled features of a frozen backbone, token states of its frozen layers otherwise)."""
    from .sources import distillation_data as pairs

    needed = dict.fromkeys((student_of(model, student_config).trainable_layers, setting)
                           for model in models for setting in model.settings)
    return {(layers, setting): pairs(profile, corpus, replace(student_config, trainable_layers=layers), setting)
            for layers, setting in needed}


def student_of(model: Model, student_config: StudentConfig) -> StudentConfig:
    """The grid's student configuration with the model's own number of trainable layers, if it has one."""
    if model.trainable_layers is None:
        return student_config
    return replace(student_config, trainable_layers=model.trainable_layers)


def run_dir(profile: str, config: TrainConfig, student_config: StudentConfig, data_key: str) -> Path:
    top_layers = student_config.trainable_layers not in (0, "all")
    topological = any(weight for name, weight in config.loss_weights.items() if name != "pointwise")
    key = config.key(repr(student_config), data_key, f"training-{TRAINING_VERSION}",
                     *([f"top-layers-{TOP_LAYERS_VERSION}"] if top_layers else []),
                     *([f"topology-engine-{ENGINE_VERSION}"] if topological else []))
    name = f"{config.variant}-{config.setting}-seed{config.seed}-{key}"
    return paths.artifacts_dir(profile) / "students" / name.replace("(", "_").replace(")", "")


def train_grid(profile: str, base: TrainConfig, student_config: StudentConfig, models: list[Model],
               seeds: dict[str, list[int]], data: dict[tuple[int, str], tuple[DistillationSplit, DistillationSplit, str]],
               progress: bool = True, processes: int = 1) -> pd.DataFrame:
    """Train (or load) every (setting, model, seed); one row per run with its folder and scores.

    `data` holds the pairs of each (trainable layers, setting), as distillation_data gives them.
    With processes > 1, torchrun first trains the unfinished runs on that many processes (one per
    GPU; the batch is the global batch, docs/training-at-scale.md), and this loop then loads them.
    """
    grid = list(_grid(profile, base, student_config, models, seeds, data))
    if processes != 1:
        _train_under_torchrun(profile, grid, data, base.batch_size, processes)
    rows = []
    for model, config, student, folder in grid:
        train, validation, _ = data[student.trainable_layers, config.setting]
        result = train_student(config, Student(student, seed=config.seed), train, validation, folder, progress=progress)
        metrics = json.loads((folder / METRICS).read_text())
        rows.append(dict(variant=model.name, objective=model.variant, trainable_layers=student.trainable_layers,
                         setting=config.setting, seed=config.seed, best_validation=result.best_validation,
                         best_epoch=result.best_epoch, epochs=result.epochs, seconds=result.seconds,
                         ms_per_step=1000 * result.seconds / max(metrics["steps"], 1),
                         topological_share_start=_topological_share(metrics["balance_start"]),
                         topological_share_best=_topological_share(metrics["balance_best"]),
                         topological_gradient_start=_topological_share(metrics["balance_start"], "gradient"),
                         topological_gradient_best=_topological_share(metrics["balance_best"], "gradient"),
                         run_dir=str(folder)))
    return pd.DataFrame(rows)


def _topological_share(balance: dict, kind: str = "loss") -> float:
    """The share of every term but the point-wise one (train.term_balance)."""
    return sum(shares[kind] for name, shares in balance.items() if name != "pointwise")


def _grid(profile: str, base: TrainConfig, student_config: StudentConfig, models: list[Model],
          seeds: dict[str, list[int]], data: dict[tuple[int, str], tuple[DistillationSplit, DistillationSplit, str]]):
    """Every run of the grid, (model, configuration, student configuration, folder), in table order."""
    for setting in ("full", "low"):
        for model in models:
            if setting not in model.settings:
                continue
            student = student_of(model, student_config)
            data_key = data[student.trainable_layers, setting][2]
            for seed in seeds[setting]:
                training = {**model.training, "max_epochs": min(model.training.get("max_epochs", base.max_epochs),
                                                                base.max_epochs)}  # a smoke run's limit holds for all
                config = replace(base, variant=model.variant, weights=model.weights, setting=setting, seed=seed, **training)
                yield model, config, student, run_dir(profile, config, student, data_key)


def _train_under_torchrun(profile: str, grid: list, data: dict, batch_size: int, processes: int) -> None:
    distributed.check_batch_size(batch_size, processes)
    pending = [(config, student, folder, f"{student.trainable_layers}-{config.setting}")
               for _, config, student, folder in grid if not (folder / METRICS).exists()]
    if pending:
        needed = {name for *_, name in pending}
        path = write_grid(paths.artifacts_dir(profile) / "students" / GRID, pending,
                          {f"{layers}-{setting}": (train, validation) for (layers, setting), (train, validation, _)
                           in data.items() if f"{layers}-{setting}" in needed})
        distributed.launch(["tomclip_lib.train", str(path)], processes)
        path.unlink()  # a copy of the pairs (gigabytes in the paper profile): the runs are in their folders now


def save_runs(profile: str, runs: pd.DataFrame, student_config: StudentConfig, base: TrainConfig,
              balance_factor: float = 1.0, chosen_weights: dict[str, float] | None = None) -> None:
    """Record the trained runs, the student's configuration, the training configuration they
    share, the balance factor and the weights validation chose, for the notebooks that evaluate
    them (04, 06, 08) and vary them (05)."""
    write_json(paths.artifacts_dir(profile) / "students.json",
               {"student": asdict(student_config), "train": asdict(base), "balance_factor": balance_factor,
                "chosen_weights": chosen_weights, "runs": runs.to_dict(orient="records")})


def load_balance(profile: str) -> tuple[float, dict[str, float] | None]:
    """Notebook 03's balance factor and the weights its sweep chose (None without a sweep)."""
    record = _students_record(profile)
    if "balance_factor" not in record:
        raise TomclipError(f"{paths.artifacts_dir(profile) / 'students.json'} predates the balance factor: run "
                           f"notebook 03_train again (its runs are reused, nothing retrains).")
    return record["balance_factor"], record["chosen_weights"]


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


def run_student(student_config: StudentConfig, run) -> Student:
    """A trained run's student (a row of the runs table: its own trainable layers, if recorded)."""
    layers = getattr(run, "trainable_layers", student_config.trainable_layers)
    return load_student(replace(student_config, trainable_layers=layers if layers == "all" else int(layers)), run.run_dir)


def _encoders(runs: pd.DataFrame, student_config: StudentConfig, teacher: Teacher):
    """(model, setting, seed, text encoder) for the teacher baseline and every student run."""
    yield TEACHER_BASELINE, "-", None, teacher.encode_texts
    for run in runs.itertuples():
        yield run.variant, run.setting, run.seed, run_student(student_config, run).encode


ZERO_SHOT_TASK, RETRIEVAL_TASK = "zero-shot top-1", "retrieval text->image R@1"


def zero_shot_table(runs: pd.DataFrame, student_config: StudentConfig, teacher: Teacher, images: ZeroShotSet,
                    image_embeddings: np.ndarray, languages: list[str], n_boot: int = 10_000,
                    hits: dict | None = None) -> pd.DataFrame:
    """Zero-shot top-1/top-5 per language for the teacher baseline and every student run, plus the
    average. `hits`, when given, receives each run's top-1 hits, (languages, images), for the
    paired comparisons (paired_comparisons)."""
    rows = []
    for model, setting, seed, encode in _encoders(runs, student_config, teacher):
        per_language = []
        for lang in languages:
            classes = encode(prompts(images.dataset, lang))
            rows += evaluate.zero_shot_rows(image_embeddings, classes, images.labels, model=model, setting=setting,
                                            language=lang, seed=seed, n_boot=n_boot)
            per_language.append(evaluate.zero_shot_hits(image_embeddings, classes, images.labels, topk=(1,))[1])
        if hits is not None and seed is not None:
            hits[ZERO_SHOT_TASK, model, setting, seed] = np.stack(per_language)
    return evaluate.language_average(pd.DataFrame(rows, columns=evaluate.TABLE_COLUMNS))


def retrieval_table(runs: pd.DataFrame, student_config: StudentConfig, teacher: Teacher, items: RetrievalSet,
                    image_embeddings: np.ndarray, languages: list[str], n_boot: int = 10_000,
                    hits: dict | None = None) -> pd.DataFrame:
    """Recall@1/5/10 both ways per language, plus macro (mean of languages) and micro (pooled)
    averages. `hits`, when given, receives each run's text -> image R@1 hits, (languages, items)."""
    rows = []
    for model, setting, seed, encode in _encoders(runs, student_config, teacher):
        pooled: dict[tuple[str, int], list[np.ndarray]] = {}
        for lang in languages:
            captions = encode(list(items.captions[lang]))
            rows += evaluate.retrieval_rows(captions, image_embeddings, model=model, setting=setting,
                                            language=lang, seed=seed, n_boot=n_boot)
            for key, query_hits in evaluate.retrieval_hits(captions, image_embeddings).items():
                pooled.setdefault(key, []).append(query_hits)
        if hits is not None and seed is not None:
            hits[RETRIEVAL_TASK, model, setting, seed] = np.stack(pooled["text_to_image", 1])
        for (direction, k), query_hits in pooled.items():
            query_hits = np.concatenate(query_hits)
            low, high = evaluate.bootstrap_interval(query_hits, n_boot)
            rows.append(dict(model=model, setting=setting, language="micro", metric=f"{direction} R@{k}",
                             value=float(query_hits.mean()), ci_low=low, ci_high=high, seed=seed))
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


def baseline_of(runs: pd.DataFrame) -> dict[str, str]:
    """Each model's MCLIP: the MCLIP run set whose student trains the same backbone layers."""
    mclip = runs[runs["objective"] == "MCLIP"].drop_duplicates("trainable_layers").set_index("trainable_layers")["variant"]
    return {row.variant: mclip[row.trainable_layers] for row in runs.drop_duplicates("variant").itertuples()
            if row.objective != "MCLIP" and row.trainable_layers in mclip.index}


def verdict(low: float, high: float) -> str:
    """What a 95% interval of a difference to MCLIP says, in words."""
    return "better than MCLIP" if low > 0 else "worse than MCLIP" if high < 0 else "no difference resolved"


def paired_comparisons(hits: dict, baselines: dict[str, str], n_boot: int = 10_000) -> pd.DataFrame:
    """Every model against its MCLIP, per setting and task: the mean difference of the
    language-averaged score in points, paired (the same test items and seeds), with a 95% paired
    bootstrap interval over items and seeds (evaluate.paired_difference), and the verdict it gives."""
    rows = []
    for task in (ZERO_SHOT_TASK, RETRIEVAL_TASK):
        for setting in ("full", "low"):
            for model, baseline in baselines.items():
                seeds = sorted(seed for (t, m, s, seed) in hits if (t, m, s) == (task, model, setting))
                paired = [seed for seed in seeds if (task, baseline, setting, seed) in hits]
                if not paired:
                    continue
                ours = np.stack([hits[task, model, setting, seed] for seed in paired]).astype(np.float64)
                theirs = np.stack([hits[task, baseline, setting, seed] for seed in paired]).astype(np.float64)
                result = evaluate.paired_difference(ours, theirs, n_boot=n_boot)
                rows.append({"setting": setting, "task": task, "model": model, "baseline": baseline,
                             "score": 100 * ours.mean(), "baseline score": 100 * theirs.mean(),
                             "difference": 100 * result["difference"], "ci_low": 100 * result["ci_low"],
                             "ci_high": 100 * result["ci_high"], "half_width": 100 * result["half_width"],
                             "seeds": result["seeds"], "items": result["items"], "wins": result["wins"],
                             "verdict": verdict(result["ci_low"], result["ci_high"])})
    return pd.DataFrame(rows)


def balance_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model and setting: the topological terms' share of the loss and of its gradient norm on
    the first validation batch, at the start and at the best epoch (mean over seeds, percent)."""
    columns = {"topological_share_start": "loss share at start", "topological_share_best": "loss share at best",
               "topological_gradient_start": "gradient share at start", "topological_gradient_best": "gradient share at best"}
    table = runs.groupby(["variant", "setting"], sort=False)[list(columns)].mean().mul(100).rename(columns=columns)
    table["ms per step"] = runs.groupby(["variant", "setting"], sort=False)["ms_per_step"].median()
    return table.reset_index().rename(columns={"variant": "model"})


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


def weight_sweep(profile: str, corpus: pd.DataFrame, base: TrainConfig, student_config: StudentConfig,
                 data: tuple[DistillationSplit, DistillationSplit, str], weights: list[float], factor: float,
                 seeds: list[int], teacher: Teacher, languages: list[str], zero_shot_limit: int | None = None
                 ) -> tuple[pd.DataFrame, dict[str, float] | None]:
    """ToMCLIP with both topological weights equal to each of `weights` and to the paper-balanced
    0.01 * factor, and MCLIP, in the low-resource setting with every seed; the ToMCLIP weights with
    the best validation R@1 (never a test number) are returned as the chosen ones. Runs are cached
    with the keys of the main grid, so the chosen and balanced runs are not trained twice."""
    from . import sources

    columns = ["setting", "weight", "seeds", "validation R@1 mean", "validation R@1 sd", "retrieval R@1 mean",
               "retrieval R@1 sd", "zero-shot top-1 mean", "zero-shot top-1 sd", "ms per step"]
    if not weights:
        return pd.DataFrame(columns=columns), None
    base = replace(base, setting="low")
    balanced = 0.01 * factor
    grid = sorted(set(weights) | {balanced})

    def label(weight: float) -> str:
        notes = [note for value, note in ((balanced, "paper-balanced"), (0.01, "the paper's raw number")) if weight == value]
        return f"ToMCLIP, w = {weight:.3g}" + (f" ({', '.join(notes)})" if notes else "")

    settings = [("MCLIP", replace(base, variant="MCLIP", weights=scaled_weights("MCLIP", factor)))] + [
        (label(w), replace(base, variant="ToMCLIP", weights={"pointwise": 1.0, "distance_matrix": w, "topology_h0": w}))
        for w in grid]
    images = sources.zero_shot_set(profile, teacher.image_size, zero_shot_limit)
    test = sources.retrieval_queries(profile, corpus, teacher, "test", languages)
    validation = sources.retrieval_queries(profile, corpus, teacher, "validation", languages)
    summary = ablation_summary(ablation(profile, "weight sweep", settings, seeds, student_config, data, teacher, images,
                                        test, validation, languages))
    summary.insert(1, "weight", [0.0] + grid)
    best, _ = best_setting(summary[summary["weight"] > 0])
    return summary[columns], dict(settings)[best["setting"]].weights


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
    if verdicts is not None and "verdict" in verdicts:
        for label, wanted in (("better than MCLIP", "better than MCLIP"), ("worse than MCLIP", "worse than MCLIP")):
            part = verdicts[verdicts["verdict"] == wanted]
            lines.append(f"- Paired against MCLIP (95% intervals over test items and seeds), {label}: " + (
                "; ".join(f"{r.model} ({r.setting}, {r.task}, {r.difference:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}])"
                          for r in part.itertuples()) if len(part) else "none") + ".")
        low = verdicts[(verdicts["setting"] == "low") & (verdicts["task"].str.startswith("retrieval"))]
        if len(low):
            lines.append("- Low-resource retrieval R@1, difference to MCLIP in points [95% interval]: " + ", ".join(
                f"{r.model} {r.difference:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}]" for r in low.itertuples())
                + f"; widest half-width {low['half_width'].max():.1f} points.")
    sweep = read("weight_sweep")
    if sweep is not None and len(sweep):
        tomclip = sweep[sweep["weight"] > 0]
        best, _ = best_setting(tomclip)
        mclip = sweep[sweep["weight"] == 0].iloc[0]
        raw = tomclip[tomclip["setting"].str.contains("raw number")]
        lines.append(f"- Weight sweep (low-resource): validation chose \"{best['setting']}\", test R@1 "
                     f"{best['retrieval R@1 mean']:.1f} ± {best['retrieval R@1 sd']:.1f} against MCLIP's "
                     f"{mclip['retrieval R@1 mean']:.1f} ± {mclip['retrieval R@1 sd']:.1f}" + (
                         f"; the paper's raw 0.01 on our unit-norm targets scores {raw.iloc[0]['retrieval R@1 mean']:.1f}"
                         if len(raw) else "") + ".")
    balance = read("balance")
    if balance is not None:
        row = balance[(balance["model"] == "ToMCLIP") & (balance["setting"] == "low")]
        if len(row):
            r = row.iloc[0]
            lines.append(f"- Balance of ToMCLIP at the paper-balanced weights (low-resource): the topological terms are "
                         f"{r['loss share at start']:.1f}% of the loss at the start and {r['loss share at best']:.1f}% at the "
                         f"best epoch, {r['gradient share at start']:.1f}% and {r['gradient share at best']:.1f}% of the "
                         "gradient norm.")
    batch = read("ablation_batch_size")
    if batch is not None:
        batch["model"] = batch["setting"].str.split(",").str[0]
        batch["size"] = batch["setting"].str.split("batch ").str[1].astype(int)
        pivot = batch.pivot(index="size", columns="model", values="retrieval R@1 mean")
        if {"MCLIP", "ToMCLIP"} <= set(pivot.columns):
            gaps = (pivot["ToMCLIP"] - pivot["MCLIP"]).round(1)
            lines.append("- Batch size, ToMCLIP (paper-balanced weights) minus MCLIP in test R@1 points: " + ", ".join(
                f"{size}: {gap:+.1f}" for size, gap in gaps.items()) + ".")
    mode = read("ablation_mode")
    if mode is not None and len(mode) == 2:
        exact, reference = mode.iloc[0], mode.iloc[1]
        lines.append(f"- L_ta exact versus the reference's sliced estimate, at the weight the sweep chose "
                     f"({exact['seeds']} seeds): test R@1 {exact['retrieval R@1 mean']:.1f} ± "
                     f"{exact['retrieval R@1 sd']:.1f} against {reference['retrieval R@1 mean']:.1f} ± "
                     f"{reference['retrieval R@1 sd']:.1f}; cost {exact['ms per step']:.0f} against "
                     f"{reference['ms per step']:.0f} ms per step.")
    runs = read("training_runs")
    # k top layers, k > 0; not 0 (frozen) nor "all" (the whole backbone, the paper profile's)
    top = None if runs is None or "trainable_layers" not in runs else runs[
        pd.to_numeric(runs["trainable_layers"], errors="coerce") > 0]
    if top is not None and len(top):
        budget = int((top["best_epoch"] == top["epochs"]).sum())
        lines.append(f"- Students whose top backbone layer trains: {budget} of {len(top)} runs had their best validation "
                     f"loss at their last epoch ({top['epochs'].max()} at most), so they were still improving when "
                     f"their epoch budget ended; compare them with each other, not with the frozen students.")
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
