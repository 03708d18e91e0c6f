"""Loading a CLOOB checkpoint as its authors publish it (ml-jku/cloob: CLIPGeneral's state_dict under
DistributedDataParallel's `module.`, the text tower nested under `transformer.`, `logit_inv_tau` and
`logit_scale_hopfield` beside the towers) into open_clip, on tiny models of both visual kinds."""

import json

import numpy as np
import open_clip
import pytest
import torch

from tomclip_lib.errors import TomclipError
from tomclip_lib.models import teacher as teacher_lib
from tomclip_lib.stages import spaces

TEXT = {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}
VISUAL = {
    "vit": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "resnet": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 8},
}
VISUAL_SIZE = {f"tiny-cloob-{kind}": cfg["image_size"] for kind, cfg in VISUAL.items()}


def _as_cloob(key: str) -> str:
    """open_clip's CLIP name -> the name CLIPGeneral gives the same tensor (ml-jku/cloob, src/clip/model.py)."""
    if key == "logit_scale":
        return "module.logit_inv_tau"
    if key.startswith(("transformer.", "token_embedding", "positional_embedding", "ln_final", "text_projection")):
        key = "transformer." + key  # TextTransformer is CLIPGeneral's `transformer`; its Transformer, `transformer`
    return "module." + key


@pytest.fixture(params=sorted(VISUAL))
def published(request, tmp_path):
    """A random open_clip model and the same weights saved as a CLOOB checkpoint."""
    name = f"tiny-cloob-{request.param}"
    config = tmp_path / f"{name}.json"
    config.write_text(json.dumps({"embed_dim": 16, "vision_cfg": VISUAL[request.param], "text_cfg": TEXT}))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model(name, pretrained=None).eval()
    state = {_as_cloob(key): value for key, value in model.state_dict().items()}
    state["module.logit_scale_hopfield"] = torch.tensor(2.0)
    path = tmp_path / "cloob_epoch_28.pt"
    torch.save({"epoch": 28, "model_config_file": f"{name}.json", "state_dict": state}, path)
    return model, name, path


def test_a_cloob_checkpoint_embeds_texts_and_images_as_the_model_it_was_saved_from(published):
    model, name, path = published
    state = torch.load(path, weights_only=True)["state_dict"]
    assert "module.transformer.transformer.resblocks.0.attn.in_proj_weight" in state  # the authors' nesting
    assert "module.transformer.token_embedding.weight" in state and "module.logit_inv_tau" in state
    loaded = teacher_lib.load_cloob_checkpoint(path)
    assert isinstance(loaded, teacher_lib.Teacher) and loaded.image_size == VISUAL_SIZE[name]
    original = teacher_lib._open_clip_teacher(model, name, loaded.preprocess, "cpu", None)
    texts = ["a photo of a cat", "zwei Hunde"]
    np.testing.assert_array_equal(loaded.encode_texts(texts), original.encode_texts(texts))
    images = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    np.testing.assert_array_equal(loaded.encode_images(images), original.encode_images(images))
    assert loaded.model.logit_scale.item() == model.logit_scale.item()  # logit_inv_tau is open_clip's logit_scale


def test_the_paper_profile_compares_openai_clip_with_a_named_cloob_checkpoint(published, tmp_path):
    _, _, path = published
    clip, said = teacher_lib.load_paper_teacher(pretrained=None, architecture="RN50"), []
    teachers = spaces.objective_teachers("paper", clip, None, ["infonce", spaces.CLOOB], path, said.append)
    assert list(teachers) == [spaces.CLIP, spaces.CLOOB] and teachers[spaces.CLIP] is clip
    assert "cloob_epoch_28.pt beside OpenAI's CLIP" in said[0]


def test_files_that_are_not_cloob_checkpoints_are_clear_errors(published, tmp_path):
    _, name, path = published
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(TomclipError, match="not a checkpoint torch can read"):
        teacher_lib.load_cloob_checkpoint(garbage)
    torch.save({"epoch": 1}, tmp_path / "bare.pt")
    with pytest.raises(TomclipError, match="holds no 'state_dict'"):
        teacher_lib.load_cloob_checkpoint(tmp_path / "bare.pt")
    with pytest.raises(TomclipError, match="'no-such-net' .* is not an open_clip model name"):
        teacher_lib.load_cloob_checkpoint(path, architecture="no-such-net")
    with pytest.raises(TomclipError, match="does not fit open_clip's RN50"):
        teacher_lib.load_cloob_checkpoint(path, architecture="RN50")
