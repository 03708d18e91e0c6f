"""The teacher: always an open_clip CLIP model, whose text tower defines the shared space.

- paper profile: OpenAI CLIP ViT-B/32 through open_clip (internet needed for the weights).
- embedded profile: an open_clip `CustomTextCLIP` whose text tower is all-MiniLM-L6-v2 with mean
  pooling, locked LiT-style, and whose small image tower (CLIP's modified ResNet, 32 px) is trained
  here with open_clip's contrastive loss on Fashion-MNIST and rendered emoji (or, with
  `TeacherConfig.objective`, with CLOOB's InfoLOOB and Hopfield step: models/cloob.py).

The embedded text tower has no projection (identity, 384-d): the teacher's text embedding of a
caption *is* its MiniLM sentence embedding. Keeping it fixed keeps MiniLM's semantics (the image
tower learns to point into a space where "kitten" is already near "cat", which is what lets it
reach emoji it never saw), makes the teacher text features a pure function of the caption that is
computed once and cached, and gives the students a target that does not move when the image tower
is retrained.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import assets, paths
from ..encoding import ENCODING_VERSION
from ..errors import TomclipError
from ..io import atomic_path, write_json
from ..topology import ENGINE_VERSION, toma_loss
from .cloob import DEFAULT_OBJECTIVE, INFOLOOB_INVERSE_TEMPERATURE, LOSS_VERSION, ContrastiveLoss, learns_temperature
from .text import TEACHER_TEXT, text_features

IMAGE_MEAN, IMAGE_STD = 0.5, 0.5


@dataclass(frozen=True)
class TeacherConfig:
    """The embedded teacher's image tower and its training; every field enters the cache key (the
    objective only when it is not CLIP's, so the teachers trained before it existed keep their keys)."""

    image_size: int = 32  # pixels (Fashion-MNIST 28 px and emoji are resized to this)
    width: int = 16  # width of the modified ResNet's stem (channels grow x2 per stage)
    layers: tuple[int, int, int, int] = (1, 1, 1, 1)  # residual blocks per stage
    epochs: int = 6
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 0.05
    fashion_per_epoch: int = 20000  # Fashion-MNIST training images drawn per epoch
    emoji_repeats: float = 4.0  # each training emoji is drawn this many times per epoch, on average
    caption_fraction: float = 1.0  # the fraction of images that keep their captions (ToMA's 10% setting)
    toma_weight: float = 0.0  # weight of ToMA's edge-direction alignment between image and text batches
    seed: int = 0
    objective: str = DEFAULT_OBJECTIVE  # infonce (CLIP's), infoloob, infonce+hopfield, infoloob+hopfield (cloob.py)

    def __post_init__(self):
        learns_temperature(self.objective)  # a TomclipError naming the objectives, for a typo

    def key(self) -> str:
        fields = asdict(self)
        if self.objective == DEFAULT_OBJECTIVE:
            del fields["objective"]
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def _quiet_transformers():
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def build_embedded_teacher(config: TeacherConfig):
    """An open_clip CustomTextCLIP: MiniLM text tower (locked, no projection) + small ResNet."""
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg, CustomTextCLIP

    _quiet_transformers()
    folder = str(assets.resolve(TEACHER_TEXT))
    torch.manual_seed(config.seed)
    model = CustomTextCLIP(
        embed_dim=384,
        vision_cfg=CLIPVisionCfg(layers=config.layers, width=config.width, image_size=config.image_size),
        text_cfg=CLIPTextCfg(
            hf_model_name=folder,
            hf_tokenizer_name=folder,
            hf_pooler_type="mean_pooler",
            hf_proj_type=None,
            context_length=64,
        ),
    )
    model.lock_text_tower(unlocked_layers=0, freeze_layer_norm=True)
    return model


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float, scaled to [-1, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    return (tensor - IMAGE_MEAN) / IMAGE_STD


def _random_shift(batch: torch.Tensor, generator: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Translate each image by up to `pad` pixels (white border): a cheap augmentation."""
    padded = F.pad(batch, (pad, pad, pad, pad), value=(1.0 - IMAGE_MEAN) / IMAGE_STD)
    size = batch.shape[-1]
    dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=generator).tolist()
    return padded[:, :, dy : dy + size, dx : dx + size]


class Teacher:
    """A CLIP model behind two calls: normalised image and text embeddings as numpy arrays."""

    def __init__(self, model, encode_texts, preprocess=None, device: str = "cpu", folder: Path | None = None):
        self.model = model.to(device).eval()
        self._encode_texts = encode_texts
        self.preprocess = preprocess
        self.device = device
        self.folder = folder  # where its artifacts live (trained teachers); image embeddings are cached there
        self.config = None  # the TeacherConfig of a trained teacher

    @property
    def dim(self) -> int:
        return int(self.model.visual.output_dim)

    @property
    def image_size(self) -> int:
        size = self.model.visual.image_size
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        return self._encode_texts(texts)

    def cached_image_embeddings(self, name: str, images: np.ndarray) -> np.ndarray:
        """encode_images, stored in the teacher's folder under `name` (with the images' fingerprint)."""
        if self.folder is None:
            return self.encode_images(images)
        digest = hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()[:12]
        path = self.folder / f"images-{name}-{digest}.npy"
        if path.exists():
            return np.load(path)
        embeddings = self.encode_images(images)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.save(handle, embeddings)
        return embeddings

    @torch.inference_mode()
    def encode_images(self, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """(N, H, W, 3) uint8 images -> (N, dim) L2-normalised embeddings."""
        out = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            if self.preprocess is None:
                batch = images_to_tensor(chunk)
            else:
                from PIL import Image

                batch = torch.stack([self.preprocess(Image.fromarray(image)) for image in chunk])
            out.append(self.model.encode_image(batch.to(self.device), normalize=True).float().cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, self.dim), dtype=np.float32)


def shares_text_tower(a: Teacher, b: Teacher) -> bool:
    """Whether two teachers' text towers hold the same weights (every tensor but the image tower's and
    the temperature's), so that they embed every text alike: an embedded teacher trained with any
    objective keeps notebook 02's locked MiniLM (its text tower has no projection to train)."""
    first, second = (
        {k: v for k, v in t.model.state_dict().items() if not k.startswith(("visual.", "logit_"))} for t in (a, b)
    )
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def embedded_text_encoder(texts: list[str]) -> np.ndarray:
    """The embedded teacher's text tower: MiniLM sentence embeddings (cached), L2-normalised."""
    return text_features(TEACHER_TEXT, list(texts))


class _ScalarExp(torch.autograd.Function):
    """exp of a one-element tensor through the C library: torch.exp goes to MKL's vector math, whose
    bits differ between Intel and AMD processors (topology/stable.py); this one value per step then
    sets the whole trajectory of the image tower."""

    @staticmethod
    def forward(ctx, value):
        result = value.new_tensor(math.exp(float(value))).reshape(value.shape)
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad * result


def _scalar_exp(value: torch.Tensor) -> torch.Tensor:
    return _ScalarExp.apply(value)


def train_embedded_teacher(
    config: TeacherConfig, images: np.ndarray, captions: list[list[str]], weights: np.ndarray, log=print
) -> tuple[Teacher, list[dict]]:
    """Train the image tower contrastively against the frozen text tower; return it and its log.

    images: (N, H, W, 3) uint8; captions[i]: the captions image i may be paired with (one is drawn
    each time it is used); weights[i]: how many times image i is expected per epoch (images are
    drawn with replacement, so small sources can be repeated and large ones subsampled). Texts go
    through the frozen tower once (cached); each step encodes a batch of images and applies
    open_clip's ClipLoss with the learnable temperature (config.objective "infonce"; the other
    objectives apply cloob.ContrastiveLoss, InfoLOOB ones with CLOOB's fixed temperature, stored in the
    model's logit_scale so that the saved teacher carries it), plus, with toma_weight, ToMA's alignment of
    difference directions along each batch's H0-death and H1-birth edges (images and captions
    index-paired). With caption_fraction < 1 only a fixed random fraction of the images keeps its
    captions (the ToMA paper's semi-supervised setting with 10% labelled pairs); the others are
    not drawn.
    """
    from open_clip.loss import ClipLoss

    if not len(images) == len(captions) == len(weights):
        raise TomclipError(
            f"The teacher needs one caption list and one weight per image; got "
            f"{len(images)} images, {len(captions)} caption lists, {len(weights)} weights."
        )
    model = build_embedded_teacher(config)
    if not learns_temperature(config.objective):
        with torch.no_grad():
            model.logit_scale.fill_(math.log(INFOLOOB_INVERSE_TEMPERATURE))
        model.logit_scale.requires_grad_(False)
    vocabulary = sorted({c for options in captions for c in options})
    index = {caption: i for i, caption in enumerate(vocabulary)}
    text_bank = torch.from_numpy(embedded_text_encoder(vocabulary))
    widest = max(len(options) for options in captions)
    option_table = torch.tensor([[index[options[k % len(options)]] for k in range(widest)] for options in captions])
    option_count = torch.tensor([len(options) for options in captions])
    weights = torch.as_tensor(weights, dtype=torch.float64)
    if config.caption_fraction < 1:
        labelled = torch.rand(len(images), generator=torch.Generator().manual_seed(10_000 + config.seed))
        weights = weights * (labelled < config.caption_fraction)
    epoch_size = int(round(float(weights.sum())))
    steps_per_epoch = max(1, epoch_size // config.batch_size)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        trainable, lr=config.lr, weight_decay=config.weight_decay, fused=True
    )  # train.py says why
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, pct_start=0.1, total_steps=config.epochs * steps_per_epoch
    )
    loss_fn = ClipLoss() if config.objective == DEFAULT_OBJECTIVE else ContrastiveLoss(config.objective)
    generator = torch.Generator().manual_seed(config.seed)
    history = []
    model.train()
    for epoch in range(config.epochs):
        start, total = time.perf_counter(), 0.0
        draws = torch.multinomial(weights, steps_per_epoch * config.batch_size, replacement=True, generator=generator)
        for rows in draws.view(steps_per_epoch, config.batch_size):
            pick = (torch.rand(len(rows), generator=generator) * option_count[rows]).long()
            # Only the drawn images become float tensors: all 60,000 at once took seconds and 0.7 GB,
            # and the conversion is element-wise, so its bits do not depend on the batch.
            pixels = images_to_tensor(images[rows.numpy()])
            image_features = model.encode_image(_random_shift(pixels, generator), normalize=True)
            text_features = text_bank[option_table[rows, pick]]
            loss = loss_fn(image_features, text_features, _scalar_exp(model.logit_scale))
            if config.toma_weight:
                loss = loss + config.toma_weight * toma_loss(image_features, text_features)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, np.log(100))
            total += float(loss.detach())
        history.append(
            {
                "epoch": epoch + 1,
                "loss": total / steps_per_epoch,
                "temperature": float(model.logit_scale.detach().exp()),
                "seconds": time.perf_counter() - start,
            }
        )
        log(
            f"teacher epoch {epoch + 1}/{config.epochs}: contrastive loss {history[-1]['loss']:.3f} "
            f"({history[-1]['seconds']:.0f} s)"
        )
    return Teacher(model, embedded_text_encoder), history


def _training_fingerprint(images: np.ndarray, captions: list[list[str]], weights: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes())
    digest.update("\x1e".join("\x1f".join(c) for c in captions).encode("utf-8"))
    digest.update(np.asarray(weights, dtype=np.float64).tobytes())
    return digest.hexdigest()[:12]


def _save(folder: Path, teacher: Teacher, config: TeacherConfig, history: list[dict]) -> None:
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        torch.save(teacher.model.visual.state_dict(), tmp / "visual.pt")
        torch.save(teacher.model.logit_scale.data, tmp / "logit_scale.pt")
        write_json(tmp / "config.json", asdict(config))
        write_json(tmp / "history.json", history)


def load_embedded_teacher(folder: Path) -> Teacher:
    """An embedded teacher saved by prepare_embedded_teacher, from its folder."""
    return _load(folder)[0]


def _load(folder: Path) -> tuple[Teacher, list[dict]]:
    config = json.loads((folder / "config.json").read_text())
    config = TeacherConfig(**{**config, "layers": tuple(config["layers"])})
    model = build_embedded_teacher(config)
    model.visual.load_state_dict(torch.load(folder / "visual.pt", weights_only=True))
    model.logit_scale.data.copy_(torch.load(folder / "logit_scale.pt", weights_only=True))
    teacher = Teacher(model, embedded_text_encoder, folder=folder)
    teacher.config = config
    return teacher, json.loads((folder / "history.json").read_text())


def prepare_embedded_teacher(
    profile: str, config: TeacherConfig, images: np.ndarray, captions: list[list[str]], weights: np.ndarray, log=print
) -> tuple[Teacher, list[dict]]:
    """The embedded teacher trained with this configuration on these data: loaded if it exists.

    Its folder, artifacts/<profile>/teacher-<key>, is keyed by the configuration and a fingerprint
    of the training data (ablations train other teachers beside it; which one the later notebooks
    load is notebook 02's record, records.save_teacher_pointer).
    """
    engine = f"|topology engine {ENGINE_VERSION}" if config.toma_weight else ""  # ToMA's bits, where it trains
    if config.objective != DEFAULT_OBJECTIVE:  # CLOOB's bits, where it trains
        engine += f"|loss {LOSS_VERSION}"
    key = hashlib.sha256(
        (
            config.key() + _training_fingerprint(images, captions, weights) + f"|encoding {ENCODING_VERSION}" + engine
        ).encode()
    ).hexdigest()[:12]
    folder = paths.artifacts_dir(profile) / f"teacher-{key}"
    if (folder / "history.json").exists():
        teacher, history = _load(folder)
    else:
        teacher, history = train_embedded_teacher(config, images, captions, weights, log)
        _save(folder, teacher, config, history)
        teacher.folder, teacher.config = folder, config
    return teacher, history


def load_paper_teacher(
    device: str = "cpu", pretrained: str | None = "openai", folder: Path | None = None, architecture: str = "ViT-B-32"
) -> Teacher:
    """OpenAI CLIP via open_clip (`architecture`: ViT-B-32, the paper's, or another open_clip architecture,
    or the path of an open_clip model-config JSON); pretrained=None builds it with random weights (tests).

    `folder`, when given, keeps its image embeddings (cached_image_embeddings) between notebooks.
    """
    import open_clip

    name = architecture
    if architecture.endswith(".json"):  # a config of one's own: open_clip registers it under the file's stem
        if not Path(architecture).is_file():
            raise TomclipError(f"teacher_model={architecture!r} names a model-config file that does not exist.")
        open_clip.add_model_config(architecture)
        name = Path(architecture).stem
    if name not in open_clip.list_models():
        raise TomclipError(
            f"teacher_model={architecture!r} is not an open_clip architecture (see open_clip.list_models()), "
            "nor an open_clip model-config JSON file."
        )
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=pretrained)
    return _open_clip_teacher(model, name, preprocess, device, folder)


def _open_clip_teacher(model, name: str, preprocess, device: str, folder: Path | None) -> Teacher:
    """A Teacher around an open_clip CLIP model of architecture `name`, its texts through its own tokenizer."""
    import open_clip

    tokenizer = open_clip.get_tokenizer(name)

    def encode_texts(texts: list[str]) -> np.ndarray:
        chunks = [
            encode_clip_text(model, tokenizer(texts[i : i + 256]).to(device)).float().cpu()
            for i in range(0, len(texts), 256)
        ]
        return torch.cat(chunks).numpy()

    return Teacher(model, encode_texts, preprocess, device, folder=folder)


#: The CLOOB authors' text tower (ml-jku/cloob, CLIPGeneral's TextTransformer) sits under `transformer.`;
#: open_clip's CLIP keeps the same parts at the top level. Their visual towers share open_clip's names.
_CLOOB_TEXT_PARTS = ("token_embedding", "positional_embedding", "ln_final", "text_projection")
#: Published CLOOB checkpoints carry these besides the towers: the learnt log inverse temperature (open_clip's
#: logit_scale, the same quantity) and the Hopfield step's scale, which a frozen encoder does not use.
_CLOOB_SCALARS = {"logit_inv_tau": "logit_scale", "logit_scale_hopfield": None}


def cloob_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A CLOOB checkpoint's `state_dict` (DistributedDataParallel's `module.` prefix or not) with open_clip's
    CLIP names: `transformer.transformer.*` -> `transformer.*`, `transformer.token_embedding.*` ->
    `token_embedding.*` (and the other text parts), `logit_inv_tau` -> `logit_scale`."""
    renamed = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key in _CLOOB_SCALARS:
            if _CLOOB_SCALARS[key] is not None:
                renamed[_CLOOB_SCALARS[key]] = value
            continue
        if key.startswith("transformer."):
            inner = key.removeprefix("transformer.")
            if inner.startswith("transformer.") or inner.split(".")[0] in _CLOOB_TEXT_PARTS:
                key = inner
        renamed[key] = value
    return renamed


def load_cloob_checkpoint(
    path: str | Path, architecture: str | None = None, device: str = "cpu", folder: Path | None = None
) -> Teacher:
    """A CLOOB model as its authors publish it (ml-jku/cloob: torch.save of {"state_dict", "epoch",
    "model_config_file", ...}, e.g. cloob_rn50_yfcc_epoch_28.pt), as an open_clip CLIP teacher.

    `architecture`: the open_clip model name; None reads it from the checkpoint's `model_config_file`
    ("RN50.json" -> RN50), the authors' name for the same configuration.
    """
    import open_clip

    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a pickle of other objects, a truncated download, not a torch file
        raise TomclipError(
            f"cloob_checkpoint={str(path)!r} is not a checkpoint torch can read as tensors ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:200]}). Name a CLOOB checkpoint of ml-jku/cloob (a .pt file)."
        ) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        found = sorted(checkpoint)[:8] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise TomclipError(
            f"cloob_checkpoint={str(path)!r} holds no 'state_dict' (found {found}): the CLOOB authors' "
            "checkpoints are dicts with the model under 'state_dict'."
        )
    name = architecture or Path(str(checkpoint.get("model_config_file", ""))).stem
    if name not in open_clip.list_models():
        raise TomclipError(
            f"cloob_checkpoint={str(path)!r}: its architecture {name or '(not recorded)'!r} (the checkpoint's "
            "model_config_file, or `architecture`) is not an open_clip model name such as RN50 or ViT-B-16; "
            "load it with tomclip_lib.models.teacher.load_cloob_checkpoint(path, architecture=...)."
        )
    model = open_clip.create_model(name, pretrained=None)
    try:
        result = model.load_state_dict(cloob_state_dict(checkpoint["state_dict"]), strict=False)
        problems = [f"missing {result.missing_keys[:4]}"] * bool(result.missing_keys)
        problems += [f"unexpected {result.unexpected_keys[:4]}"] * bool(result.unexpected_keys)
    except RuntimeError as error:  # tensors of other shapes
        problems = [line.strip() for line in str(error).splitlines()[1:3]]
    if problems:
        raise TomclipError(
            f"cloob_checkpoint={str(path)!r} does not fit open_clip's {name} ({'; '.join(problems)}): "
            f"is {name} the checkpoint's architecture?"
        )
    preprocess = open_clip.image_transform(model.visual.image_size, is_train=False)
    return _open_clip_teacher(model, name, preprocess, device, folder)


@torch.inference_mode()
def encode_clip_text(model, tokens: torch.Tensor) -> torch.Tensor:
    """open_clip's `CLIP.encode_text(tokens, normalize=True)`, computed on the tokens up to the
    batch's longest caption only.

    CLIP's text transformer is causal and reads each caption's embedding at its end-of-text token,
    so the padding after the longest caption cannot change any embedding; cutting it makes a batch
    of short prompts several times cheaper than the full 77 positions (tests check equality).
    """
    from open_clip.transformer import text_global_pool

    length = int((tokens != 0).sum(dim=1).max())
    tokens = tokens[:, :length]
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast) + model.positional_embedding[:length].to(cast)
    x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask[:length, :length]))
    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None))
    x = model.text_projection(x) if isinstance(model.text_projection, torch.nn.Linear) else x @ model.text_projection
    return F.normalize(x, dim=-1)
