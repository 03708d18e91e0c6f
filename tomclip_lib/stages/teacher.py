"""Notebook 02's stage: the teacher whose text tower defines the shared space, and its English scores.

Embedded: a CLIP with a locked MiniLM text tower whose image tower trains here. Paper: OpenAI's
CLIP (ViT-B/32 unless the profile names another open_clip model), loaded as published. Either
way the later notebooks load it through records.load_teacher.
"""
from __future__ import annotations

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
        training = embedded.teacher_training_set(corpus, config.image_size, config.fashion_per_epoch,
                                                 config.emoji_repeats)
        teacher, history = prepare_embedded_teacher(profile, config, training.images, training.captions,
                                                    training.weights)
        records.save_teacher_pointer(profile, {"kind": records.EMBEDDED, "folder": teacher.folder.name})
        return teacher, history
    data = records.paper_data(profile)
    weights, model = data.teacher_weights, data.teacher_model
    folder = paths.artifacts_dir(profile) / f"teacher-{Path(model).stem.lower()}-{weights or 'random'}"
    teacher = load_paper_teacher("cuda" if torch.cuda.is_available() else "cpu", pretrained=weights, folder=folder,
                                 architecture=model)
    records.save_teacher_pointer(profile, {"kind": records.PAPER, "pretrained": weights, "model": model,
                                           "folder": folder.name})
    return teacher, []


def english_reference(teacher: Teacher, images: embedded.ZeroShotSet, items: embedded.RetrievalSet,
                      n_boot: int = 10_000) -> pd.DataFrame:
    """The teacher in English: zero-shot top-1/top-5 and retrieval recall, with 95% intervals."""
    image_embeddings = teacher.cached_image_embeddings("zero-shot", images.images)
    classes = teacher.encode_texts(prompts(images.dataset, "en"))
    zero_shot = pd.DataFrame(evaluate.zero_shot_rows(image_embeddings, classes, images.labels, model=TEACHER_BASELINE,
                                                     setting="-", language="en", seed=None, n_boot=n_boot))
    recall = evaluate.retrieval_recall(teacher.encode_texts(list(items.captions["en"])),
                                       teacher.cached_image_embeddings("retrieval", items.images), n_boot=n_boot)
    table = pd.concat([zero_shot.assign(task="zero-shot"), recall.assign(task="retrieval")], ignore_index=True)
    return table[["task", "metric", "value", "ci_low", "ci_high"]]
