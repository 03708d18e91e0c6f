"""The embedded teacher: an open_clip CLIP whose frozen text tower equals the cached MiniLM features."""

import numpy as np
import pytest
import torch

from tomclip_lib.data import embedded
from tomclip_lib.data.languages import TEACHER_TEMPLATES
from tomclip_lib.models import teacher as teacher_lib


@pytest.fixture(scope="module")
def model():
    return teacher_lib.build_embedded_teacher(teacher_lib.TeacherConfig())


def test_text_tower_is_minilm_locked_with_no_projection(model):
    import open_clip

    folder = str(teacher_lib.assets.resolve(teacher_lib.TEACHER_TEXT))
    tokenizer = open_clip.tokenizer.HFTokenizer(folder, context_length=64)
    texts = ["a photo of a cat", "ein Foto von einem Hund", "grinning face"]
    with torch.no_grad():
        tower = model.encode_text(tokenizer(texts), normalize=True).numpy()
    np.testing.assert_allclose(tower, teacher_lib.embedded_text_encoder(texts), atol=1e-5)
    assert not any(p.requires_grad for p in model.text.parameters())
    assert isinstance(model.text.proj, torch.nn.Identity)
    assert any(p.requires_grad for p in model.visual.parameters())


def test_images_map_into_the_text_space(model):
    teacher = teacher_lib.Teacher(model, teacher_lib.embedded_text_encoder)
    images = np.full((3, 32, 32, 3), 255, dtype=np.uint8)
    embeddings = teacher.encode_images(images)
    assert embeddings.shape == (3, 384) and np.allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
    assert teacher.image_size == 32


def test_teacher_data_hold_out_the_validation_and_test_emoji(small_corpus):
    training = embedded.teacher_training_set(small_corpus, 32, fashion_per_epoch=600, emoji_repeats=2.0)
    held_out = set(small_corpus.loc[small_corpus["split"] != "train", "emoji"])
    emoji_captions = {c for caps, source in zip(training.captions, training.source) if source == "emoji" for c in caps}
    held_out_names = set(
        small_corpus[
            (small_corpus["emoji"].isin(held_out))
            & (small_corpus["lang"] == "en")
            & (small_corpus["source"] == "emoji-name")
        ]["text"]
    )
    assert held_out and not (held_out_names & emoji_captions)
    assert training.weights[training.source == "fashion-mnist"].sum() == pytest.approx(600)
    assert training.captions[0][0] in [
        t.format(x)
        for t in TEACHER_TEMPLATES
        for x in (
            "a T-shirt",
            "trousers",
            "a pullover",
            "a dress",
            "a coat",
            "a sandal",
            "a shirt",
            "a sneaker",
            "a bag",
            "an ankle boot",
        )
    ]


def test_a_short_training_learns_something(small_corpus):
    training = embedded.teacher_training_set(small_corpus, 32, fashion_per_epoch=1024, emoji_repeats=0.5)
    config = teacher_lib.TeacherConfig(
        epochs=2, fashion_per_epoch=1024, emoji_repeats=0.5, toma_weight=0.1, caption_fraction=0.5
    )
    teacher, history = teacher_lib.train_embedded_teacher(
        config, training.images, training.captions, training.weights, log=lambda m: None
    )
    assert len(history) == 2 and history[1]["loss"] < history[0]["loss"]
