"""Notebook 02's stage: the teacher whose text tower defines the shared space, and its English scores
(and notebook 05's ablation of the teacher's own training, with and without ToMA).

Embedded: a CLIP with a locked MiniLM text tower whose image tower trains here. Paper: OpenAI's
CLIP (ViT-B/32 unless the profile names another open_clip model), loaded as published. Either
way the later notebooks load it through records.load_teacher.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from .. import evaluate, paths, records
from ..data import embedded
from ..data.classnames import prompts
from ..models.teacher import Teacher, TeacherConfig, load_paper_teacher, prepare_embedded_teacher

#: The teacher's own text tower as a row of the tables, the ceiling of every student.
TEACHER_BASELINE = "CLIP (teacher text encoder)"


def prepare_teacher(profile: str, corpus: pd.DataFrame, config: TeacherConfig) -> tuple[Teacher, list[dict]]:
    """The teacher and its training history (empty for the paper's, loaded as it is), recorded as the
    profile's teacher for the later notebooks."""
    if records.kind(profile) == records.EMBEDDED:
        training = embedded.teacher_training_set(
            corpus, config.image_size, config.fashion_per_epoch, config.emoji_repeats
        )
        teacher, history = prepare_embedded_teacher(
            profile, config, training.images, training.captions, training.weights
        )
        records.save_teacher_pointer(profile, {"kind": records.EMBEDDED, "folder": teacher.folder.name})
        return teacher, history
    data = records.paper_data(profile)
    weights, model = data.teacher_weights, data.teacher_model
    folder = paths.artifacts_dir(profile) / f"teacher-{Path(model).stem.lower()}-{weights or 'random'}"
    teacher = load_paper_teacher(
        "cuda" if torch.cuda.is_available() else "cpu", pretrained=weights, folder=folder, architecture=model
    )
    records.save_teacher_pointer(
        profile, {"kind": records.PAPER, "pretrained": weights, "model": model, "folder": folder.name}
    )
    return teacher, []


def english_reference(
    teacher: Teacher, images: embedded.ZeroShotSet, items: embedded.RetrievalSet, n_boot: int = 10_000
) -> pd.DataFrame:
    """The teacher in English: zero-shot top-1/top-5 and retrieval recall, with 95% intervals."""
    image_embeddings = teacher.cached_image_embeddings("zero-shot", images.images)
    classes = teacher.encode_texts(prompts(images.dataset, "en"))
    zero_shot = pd.DataFrame(
        evaluate.zero_shot_rows(
            image_embeddings,
            classes,
            images.labels,
            model=TEACHER_BASELINE,
            setting="-",
            language="en",
            seed=None,
            n_boot=n_boot,
        )
    )
    recall = evaluate.retrieval_recall(
        teacher.encode_texts(list(items.captions["en"])),
        teacher.cached_image_embeddings("retrieval", items.images),
        n_boot=n_boot,
    )
    table = pd.concat([zero_shot.assign(task="zero-shot"), recall.assign(task="retrieval")], ignore_index=True)
    return table[["task", "metric", "value", "ci_low", "ci_high"]]


TEACHER_ABLATION_COLUMNS = [
    "setting",
    "seeds",
    "zero-shot top-1 mean",
    "zero-shot top-1 sd",
    "retrieval R@1 mean",
    "retrieval R@1 sd",
]


def teacher_toma_ablation(
    profile: str,
    teacher: Teacher,
    corpus: pd.DataFrame,
    images: embedded.ZeroShotSet,
    toma_weight: float,
    caption_fraction: float,
    seeds: list[int],
    all_captions: bool = True,
) -> pd.DataFrame:
    """ToMA in the teacher's own image-text training: the teacher of notebook 02 retrained with and
    without it, with `caption_fraction` of the captions (every seed) and, if `all_captions`, with
    every caption (first seed; ToMA on every caption batch costs about a minute on two cores),
    scored in English (zero-shot top-1, text -> image R@1 of the held-out emoji); mean and sd over
    seeds, in percent. A teacher loaded as published (the paper profile's CLIP) has no training
    here to vary: the table is then empty.
    """
    if teacher.config is None:
        return pd.DataFrame(columns=TEACHER_ABLATION_COLUMNS)
    items = embedded.emoji_retrieval_set(corpus, teacher.image_size)
    config = teacher.config
    training = embedded.teacher_training_set(corpus, config.image_size, config.fashion_per_epoch, config.emoji_repeats)
    rows = []
    plan = ([(1.0, seeds[:1])] if all_captions else []) + [(caption_fraction, seeds)]
    for fraction, fraction_seeds in plan:
        for label, weight in (("contrastive", 0.0), ("+ ToMA", toma_weight)):
            for seed in fraction_seeds:
                variant = replace(config, caption_fraction=fraction, toma_weight=weight, seed=seed)
                trained, _ = prepare_embedded_teacher(
                    profile, variant, training.images, training.captions, training.weights, log=lambda message: None
                )
                classes = trained.encode_texts(prompts(images.dataset, "en"))
                zero_shot = evaluate.zero_shot_accuracy(
                    trained.cached_image_embeddings("zero-shot", images.images), classes, images.labels, topk=(1,)
                )["top1"]
                hits = evaluate.retrieval_hits(
                    trained.encode_texts(list(items.captions["en"])),
                    trained.cached_image_embeddings("retrieval", items.images),
                    ks=(1,),
                )
                rows.append(
                    {
                        "setting": f"{100 * fraction:g}% captions, {label}",
                        "seed": seed,
                        "zero-shot top-1": zero_shot,
                        "retrieval R@1": float(hits[("text_to_image", 1)].mean()),
                    }
                )
    runs = pd.DataFrame(rows)
    grouped = runs.groupby("setting", sort=False)
    summary = pd.DataFrame({"seeds": grouped["seed"].count()})
    for metric in ("zero-shot top-1", "retrieval R@1"):
        summary[f"{metric} mean"] = 100 * grouped[metric].mean()
        summary[f"{metric} sd"] = 100 * grouped[metric].std()
    return summary.reset_index()[TEACHER_ABLATION_COLUMNS]
