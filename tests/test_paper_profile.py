"""The paper profile's path, offline: randomly initialised real architectures (open_clip ViT-B-32,
a small XLM-RoBERTa) and fixture files in the real formats, through the same training and
evaluation functions as the embedded profile."""

import numpy as np
import pytest
import torch

from tomclip_lib import assets, evaluate
from tomclip_lib.data.classnames import prompts
from tomclip_lib.data.images import read_images
from tomclip_lib.data.paper_sources import load_cifar100_test, load_mclip_pairs, load_xflickrco, split_mclip
from tomclip_lib.models.student import Student, StudentConfig
from tomclip_lib.models.teacher import encode_clip_text, load_paper_teacher
from tomclip_lib.train import DistillationSplit, TrainConfig, train_student


@pytest.fixture(scope="module")
def paper_teacher():
    torch.manual_seed(0)
    return load_paper_teacher(pretrained=None)


def test_clip_text_cut_after_the_longest_caption_equals_open_clips_encode_text(paper_teacher):
    import open_clip

    texts = [
        "a photo of an otter",
        "수달이 있는 사진",
        "x",
        "a photograph of a very small red bicycle leaning on a wall",
    ]
    tokens = open_clip.get_tokenizer("ViT-B-32")(texts)
    assert int((tokens != 0).sum(dim=1).max()) < tokens.shape[1] // 2, "the cut must drop most positions"
    with torch.inference_mode():
        full = paper_teacher.model.encode_text(tokens, normalize=True)
    assert torch.allclose(encode_clip_text(paper_teacher.model, tokens), full, atol=1e-5)
    np.testing.assert_allclose(paper_teacher.encode_texts(texts[:2]), full[:2].numpy(), atol=1e-5)


def test_a_teacher_model_that_open_clip_does_not_know_is_a_clear_error(tmp_path):
    from tomclip_lib.errors import TomclipError

    with pytest.raises(TomclipError, match="not an open_clip architecture"):
        load_paper_teacher(pretrained=None, architecture="ViT-B-33")
    with pytest.raises(TomclipError, match="does not exist"):
        load_paper_teacher(pretrained=None, architecture=str(tmp_path / "absent.json"))


@pytest.fixture(scope="module")
def xlmr_student():
    from paper_fixtures import tiny_xlm_roberta
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(assets.resolve("intfloat/multilingual-e5-small"))  # XLM-R's vocabulary
    backbone = tiny_xlm_roberta(tokenizer)
    config = StudentConfig(backbone="xlm-roberta-large", out_dim=512, head_hidden=None, trainable_layers="all")
    return Student(config, backbone=backbone, tokenizer=tokenizer)


def test_the_paper_student_distils_mclip_pairs(mclip_files, hf_cache, xlmr_student, tmp_path):
    pairs = load_mclip_pairs(
        mclip_files.translations, mclip_files.embeddings, korean=mclip_files.korean, cache_dir=hf_cache
    )
    split = split_mclip(pairs, validation_rows=4, low_resource_rows=6, total_rows=len(pairs))
    train = DistillationSplit(
        split.low_resource_train.translated, torch.from_numpy(split.low_resource_train.embeddings)
    )
    validation = DistillationSplit(split.validation.translated, torch.from_numpy(split.validation.embeddings))
    config = TrainConfig(variant="ToMCLIP", setting="low", lr=1e-5, batch_size=4, max_epochs=2, warmup_steps=2)
    result = train_student(config, xlmr_student, train, validation, tmp_path, progress=False)
    assert result.epochs == 2 and np.isfinite(result.best_validation)
    assert all(p.requires_grad for p in xlmr_student.backbone.parameters()), "the paper fine-tunes all of XLM-R"


def test_zero_shot_on_cifar100_in_several_languages(cifar100_root, paper_teacher, xlmr_student):
    images, labels, names = load_cifar100_test(cifar100_root, verify=False)
    image_embeddings = paper_teacher.encode_images(images)
    assert image_embeddings.shape == (len(images), 512)
    assert np.allclose(np.linalg.norm(image_embeddings, axis=1), 1, atol=1e-5)
    for lang in ("en", "ko", "de"):
        class_embeddings = xlmr_student.encode(prompts("cifar-100", lang))
        rows = evaluate.zero_shot_rows(
            image_embeddings, class_embeddings, labels, model="ToMCLIP", setting="low", language=lang, seed=0, n_boot=50
        )
        assert {r["metric"] for r in rows} == {"top1", "top5"} and all(0 <= r["value"] <= 1 for r in rows)
    baseline = paper_teacher.encode_texts(prompts("cifar-100", "en"))
    assert baseline.shape == (100, 512)


def test_retrieval_on_xflickrco(xflickrco_files, paper_teacher, xlmr_student):
    pairs = load_xflickrco(xflickrco_files.annotations, xflickrco_files.image_roots, "ja")
    image_embeddings = paper_teacher.encode_images(read_images([path for path, _ in pairs]))
    captions = xlmr_student.encode([caption for _, caption in pairs])
    table = evaluate.retrieval_recall(captions, image_embeddings, ks=(1, 5), n_boot=50)
    assert len(table) == 4 and table["value"].between(0, 1).all()
