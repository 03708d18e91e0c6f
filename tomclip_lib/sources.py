"""What a profile reads, behind one set of calls, so that every notebook has one code path.

Two kinds of source exist. `embedded` (every profile by default): the offline assets, i.e. the
CLDR/Babel corpus with MiniLM targets, Fashion-MNIST, the rendered emoji and the teacher that
notebook 02 trains. `paper`: M-CLIP ImageCaptions-7M pairs with their precomputed CLIP ViT-B/32
text embeddings as targets (as the reference trains), CIFAR-100 test, xFlickr&CO test and OpenAI
CLIP ViT-B/32 through open_clip. Notebook 01 chooses the kind (a `paper_data` parameter means
paper) and records it in artifacts/<profile>/sources.json; every later notebook asks this module.
The emoji names of CLDR (Debian packages, installed by the set-up in every profile) stay the
caption set of the figures (06) and of the method notebook (07) in both kinds: they are the one
offline caption set with a category per caption and every language, Korean included.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import paths
from .data import embedded
from .data.corpus import CorpusConfig, build_corpus, save_corpus, split_pairs
from .data.images import read_images
from .data.paper_check import check_paper_data
from .data.paper_sources import (MCLIP_EMBEDDINGS, MCLIP_TRANSLATIONS, REFERENCE_TOTAL_ROWS, XFLICKRCO_EVALUATED,
                                 MclipPairs, MclipSplit, load_cifar100_test, load_mclip_pairs, load_xflickrco,
                                 split_mclip)
from .errors import TomclipError
from .evaluate import RetrievalQueries
from .io import atomic_path, write_json
from .train import DistillationSplit

EMBEDDED, PAPER = "embedded", "paper"


@dataclass(frozen=True)
class PaperData:
    """Where the paper profile's data are: the `paper_data` parameter of notebook 01 (params/paper.yaml).

    Hub ids are read from the Hugging Face Hub when it is reachable; every other value is a local path.
    """

    translations: str = MCLIP_TRANSLATIONS
    embeddings: str = MCLIP_EMBEDDINGS
    korean: str | None = None  # the reference's Korean CSV (M-CLIP has no Korean); None drops Korean
    rows: int | None = REFERENCE_TOTAL_ROWS  # embedding rows read, as the reference (None: all)
    allow_fewer_rows: bool = False  # fewer than `rows` (a partial export): warn and go on instead of failing
    validation_rows: int = 5000
    low_resource_rows: int = 15000  # the reference's datause=0.01
    cifar100_root: str = ""  # holds cifar-100-python/
    verify_cifar100: bool = True  # md5 against torchvision's (off only for test fixtures)
    xflickrco_annotations: str = ""  # IGLUE datasets/xFlickrCO/annotations
    coco_images: str = ""  # COCO val2014 image folder
    flickr30k_images: str = ""  # Flickr30k image folder
    teacher_weights: str | None = "openai"  # open_clip pretrained tag of the teacher (None: random, for tests)
    # The teacher's open_clip architecture, or an open_clip model-config JSON file (the tests' tiny CLIP);
    # M-CLIP's embeddings (`embeddings`) must be this model's text embeddings.
    teacher_model: str = "ViT-B-32"
    datasets_cache: str | None = None  # Hugging Face datasets cache (None: its default)

    @classmethod
    def resolve(cls, value: dict) -> PaperData:
        """The parameter checked for shape, relative paths read from the repository root; no folder is
        required (the path check, data/paper_check.py, reports every missing one at once)."""
        if not isinstance(value, dict):
            raise TomclipError(f"paper_data must be a mapping of {', '.join(f.name for f in fields(cls))}; "
                               f"got {type(value).__name__}.")
        unknown = sorted(set(value) - {f.name for f in fields(cls)})
        if unknown:
            raise TomclipError(f"paper_data has unknown key(s) {unknown}; known: {', '.join(f.name for f in fields(cls))}.")
        data = cls(**value)
        return replace(data, **{name: _from_root(getattr(data, name), must_exist=False) for name in _FOLDERS},
                       **{name: _from_root(getattr(data, name), must_exist=True) for name in ("translations", "embeddings")})

    @classmethod
    def from_parameter(cls, value: dict) -> PaperData:
        data = cls.resolve(value)
        missing = [name for name in ("cifar100_root", "xflickrco_annotations") if not getattr(data, name)]
        if missing:
            raise TomclipError(f"paper_data lacks {' and '.join(missing)}: the paper profile evaluates on CIFAR-100 "
                               "and xFlickr&CO, so give their folders in params/paper.yaml (see docs/profiles.md, 'Paper profile').")
        return data

    @property
    def image_roots(self) -> dict[str, str]:
        return {key: folder for key, folder in (("coco", self.coco_images), ("flickr30k", self.flickr30k_images)) if folder}


_FOLDERS = ("korean", "cifar100_root", "xflickrco_annotations", "coco_images", "flickr30k_images", "datasets_cache")


def _from_root(value: str | None, must_exist: bool) -> str | None:
    """A relative path is read from the repository root; with must_exist, only if it exists there
    (translations and embeddings may instead be hub ids, which look like relative paths)."""
    if not value or Path(value).is_absolute():
        return value
    path = paths.REPO_ROOT / value
    return str(path) if path.exists() or not must_exist else value


def _record_path(profile: str) -> Path:
    return paths.artifacts_dir(profile) / "sources.json"


def _targets_path(profile: str) -> Path:
    return paths.artifacts_dir(profile) / "teacher_targets.npy"


def _record(profile: str) -> dict:
    path = _record_path(profile)
    if not path.exists():
        raise TomclipError(f"No data prepared for profile {profile!r}: run notebook 01_data first "
                           f"(make paper PROFILE={profile} runs the notebooks in order).")
    return json.loads(path.read_text())


def kind(profile: str) -> str:
    """'embedded' or 'paper': what notebook 01 prepared for this profile."""
    return _record(profile)["kind"]


def paper_data(profile: str) -> PaperData:
    return PaperData(**_record(profile)["paper_data"])


# ----------------------------------------------------------------------------- notebook 01


def prepare_corpus(profile: str, config: CorpusConfig, paper: dict | None = None) -> pd.DataFrame:
    """Build and save the profile's distillation corpus; record which kind of sources it uses.

    Both kinds give one row per caption pair with the columns item, lang, source, en, text, split
    and low_resource; `config` shapes the embedded corpus only. The paper corpus adds target_row,
    its row in teacher_targets.npy (M-CLIP's precomputed CLIP text embedding of `en`).
    """
    if paper is None:
        corpus = build_corpus(config)
        record = {"kind": EMBEDDED, "paper_data": None}
    else:
        data = PaperData.from_parameter(paper)
        check_paper_data(data)  # every missing download at once, before hours of loading
        corpus, targets, rows = _mclip_corpus(data)
        with atomic_path(_targets_path(profile)) as tmp, open(tmp, "wb") as handle:
            np.save(handle, targets)
        record = {"kind": PAPER, "paper_data": asdict(data), "mclip_rows": rows}
    save_corpus(corpus, profile)
    write_json(_record_path(profile), record)
    return corpus


def _mclip_corpus(data: PaperData) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """M-CLIP pairs split as the reference does: validation first, then training, the low-resource
    rows being the first `low_resource_rows` training rows, all by raw embedding row (a dropped row
    leaves a gap, it does not move a boundary). Like the reference, it keeps the translations of
    every language among the rows read, not only the 13 evaluated ones. Also returns what was read
    and dropped, for the data card (mclip_rows)."""
    pairs = load_mclip_pairs(data.translations, data.embeddings, limit=data.rows, korean=data.korean,
                             allow_fewer_rows=data.allow_fewer_rows, cache_dir=data.datasets_cache)
    split = split_mclip(pairs, validation_rows=data.validation_rows, low_resource_rows=data.low_resource_rows,
                        total_rows=None)
    parts = []
    for name, part in (("validation", split.validation), ("train", split.train)):
        parts.append(pd.DataFrame({"item": part.ids.astype(str), "lang": part.languages, "source": "mclip",
                                   "en": part.english, "text": part.translated, "split": name}))
    corpus = pd.concat(parts, ignore_index=True)
    corpus["low_resource"] = False
    first_train = len(split.validation)
    corpus.loc[first_train:first_train + len(split.low_resource_train) - 1, "low_resource"] = True
    corpus["target_row"] = np.arange(len(corpus))
    # Validation then training rows are all the pairs, in order: the targets need no copy.
    return corpus, pairs.embeddings, _row_counts(pairs, split, data)


def _row_counts(pairs: MclipPairs, split: MclipSplit, data: PaperData) -> dict:
    """Rows asked, read and dropped (and why), and per split the embedding rows against the pairs kept."""
    read = pairs.read
    bounds = {"validation": data.validation_rows, "train": read.read - data.validation_rows,
              "low-resource train": data.low_resource_rows}
    kept = {"validation": len(split.validation), "train": len(split.train),
            "low-resource train": len(split.low_resource_train)}
    return {"source": read.source, "asked": read.asked, "read": read.read, "dropped": dict(read.dropped),
            "kept": read.kept,
            "splits": [{"split": name, "embedding rows": bounds[name], "pairs kept": kept[name]} for name in bounds]}


def mclip_rows(profile: str) -> dict | None:
    """What notebook 01 read of M-CLIP (see _row_counts), or None when the profile has no paper data."""
    path = _record_path(profile)
    return json.loads(path.read_text()).get("mclip_rows") if path.exists() else None


def asset_table(paper: dict | None = None) -> pd.DataFrame:
    """What a profile reads, where from, under which terms (the data card's last table).

    `paper` is notebook 01's `paper_data` parameter; None resolves the embedded assets (all of them,
    each problem reported with its remedy).
    """
    if paper is None:
        from . import assets
        from .data import datacard

        return datacard.asset_table(record["identity"] for record in assets.prepare_all())
    data = PaperData.from_parameter(paper)
    rows = [("M-CLIP translations", "English captions and their machine translations", data.translations),
            ("M-CLIP embeddings", "CLIP ViT-B/32 text embeddings of the English captions", data.embeddings),
            ("Korean captions", "the ToMCLIP reference's Korean translations", data.korean or "not used"),
            ("CIFAR-100 test", "10,000 images, 100 classes", data.cifar100_root),
            ("xFlickr&CO test", "IGLUE annotations, 8 languages", data.xflickrco_annotations),
            ("COCO val2014 images", "images of xFlickr&CO", data.coco_images or "not given"),
            ("Flickr30k images", "images of xFlickr&CO", data.flickr30k_images or "not given"),
            (f"CLIP {data.teacher_model}", "open_clip, the teacher", f"pretrained={data.teacher_weights}")]
    return pd.DataFrame([dict(asset=a, what=w, source=str(s), license="see the source's terms") for a, w, s in rows])


def categories(profile: str, corpus: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Rows to count by `category` and `split`, and a title: emoji per CLDR group (embedded), whose
    test split should cover the training groups, or caption pairs per language (paper)."""
    if kind(profile) == EMBEDDED:
        emoji = corpus.drop_duplicates("item").query("emoji != ''")
        return emoji[["group", "split"]].rename(columns={"group": "category"}), "Emoji per CLDR group and split"
    return corpus[["lang", "split"]].rename(columns={"lang": "category"}), "M-CLIP caption pairs per language and split"


# ----------------------------------------------------------------------------- evaluation sets


def zero_shot_set(profile: str, image_size: int, limit: int | None = None) -> embedded.ZeroShotSet:
    """Fashion-MNIST test (embedded) or CIFAR-100 test (paper); `limit` keeps a class-balanced prefix.

    CIFAR-100 stays at its 32 px: the teacher's own open_clip preprocessing upsamples it (bicubic;
    the reference resizes bilinearly, see PAPER_SOURCES.md for why this keeps open_clip's).
    """
    if kind(profile) == EMBEDDED:
        return embedded.zero_shot_set(image_size, limit)
    data = paper_data(profile)
    images, labels, _ = load_cifar100_test(data.cifar100_root, verify=data.verify_cifar100)
    if limit is not None:
        keep = np.sort(np.concatenate([np.flatnonzero(labels == k)[: max(1, limit // 100)] for k in range(100)]))
        images, labels = images[keep], labels[keep]
    return embedded.ZeroShotSet("cifar-100", images, labels)


def retrieval_set(profile: str, corpus: pd.DataFrame, image_size: int, split: str = "test") -> embedded.RetrievalSet:
    """Held-out emoji and their names (embedded) or xFlickr&CO test (paper), one caption per image
    and language; the paper's languages that xFlickr&CO lacks (ko fr it vi da pl) have no column."""
    if kind(profile) == EMBEDDED:
        return embedded.retrieval_set(corpus, image_size, split)
    if split != "test":
        raise TomclipError(f"xFlickr&CO has only a test split here, not {split!r}; "
                           "the paper profile tunes on M-CLIP's validation rows.")
    data = paper_data(profile)
    pairs = {lang: load_xflickrco(data.xflickrco_annotations, data.image_roots, lang) for lang in XFLICKRCO_EVALUATED}
    files = [path for path, _ in pairs["en"]]
    for lang, rows in pairs.items():
        if [path for path, _ in rows] != files:
            raise TomclipError(f"xFlickr&CO {lang}/test.jsonl lists other images than en/test.jsonl; "
                               "use the annotations of one IGLUE release for every language.")
    captions = pd.DataFrame({lang: [caption for _, caption in rows] for lang, rows in pairs.items()},
                            index=pd.Index([path.name for path in files], name="item"))
    groups = pd.Series(["COCO" if path.name.startswith("COCO_") else "Flickr30k" for path in files],
                       index=captions.index, name="group")
    return embedded.RetrievalSet(_square(read_images(files), image_size), captions, groups)


def _square(images: list[np.ndarray], size: int) -> np.ndarray:
    """Centre crop to a square and resize to `size` (bicubic), what CLIP's preprocessing does."""
    from PIL import Image, ImageOps

    return np.stack([np.asarray(ImageOps.fit(Image.fromarray(image), (size, size), Image.Resampling.BICUBIC))
                     for image in images])


# ----------------------------------------------------------------------------- notebooks 02 and 03


def prepare_teacher(profile: str, corpus: pd.DataFrame, config) -> tuple:
    """The teacher and its training history: trained on the embedded data with `config` (a
    TeacherConfig), or OpenAI's CLIP (ViT-B/32 unless teacher_model says otherwise) loaded as it is
    (paper; the history is empty)."""
    from .models.teacher import load_paper_teacher, prepare_embedded_teacher

    if kind(profile) == EMBEDDED:
        training = embedded.teacher_training_set(corpus, config.image_size, config.fashion_per_epoch,
                                                 config.emoji_repeats)
        teacher, history = prepare_embedded_teacher(profile, config, training.images, training.captions,
                                                    training.weights)
        return teacher, history
    data = paper_data(profile)
    weights, model = data.teacher_weights, data.teacher_model
    folder = paths.artifacts_dir(profile) / f"teacher-{Path(model).stem.lower()}-{weights or 'random'}"
    teacher = load_paper_teacher("cuda" if torch.cuda.is_available() else "cpu", pretrained=weights, folder=folder,
                                 architecture=model)
    write_json(paths.artifacts_dir(profile) / "teacher.json",
               {"kind": PAPER, "pretrained": weights, "model": model, "folder": folder.name})
    return teacher, []


def target_dim(profile: str) -> int:
    """The teacher's text embedding size, which the student's head maps to."""
    if kind(profile) == EMBEDDED:
        from .models.teacher import embedded_text_encoder

        return int(embedded_text_encoder(["a"]).shape[1])
    return int(np.load(_targets_path(profile), mmap_mode="r").shape[1])


def distillation_data(profile: str, corpus: pd.DataFrame, student_config, setting: str
                      ) -> tuple[DistillationSplit, DistillationSplit, str]:
    """Training and validation pairs of one setting ('full' or 'low') and a key of their contents."""
    from .experiment import distillation_splits
    from .models.teacher import embedded_text_encoder

    if kind(profile) == EMBEDDED:
        return distillation_splits(corpus, student_config, lambda pairs: embedded_text_encoder(list(pairs["en"])),
                                   setting)
    targets = np.load(_targets_path(profile), mmap_mode="r")
    return distillation_splits(corpus, student_config, lambda pairs: targets[pairs["target_row"].to_numpy()], setting)


# ----------------------------------------------------------------------------- notebooks 05-08


def retrieval_queries(profile: str, corpus: pd.DataFrame, teacher, split: str, languages: list[str]) -> RetrievalQueries:
    """Captions per language and the gallery they are scored against, for the ablations.

    `test` is notebook 04's retrieval set against the teacher's image embeddings. `validation`, the
    only split to choose settings by, is the validation emoji against their images (embedded) or,
    xFlickr&CO having no validation split, M-CLIP's validation rows (paper): each translation
    against the teacher's embeddings of every distinct English validation caption, its own being
    the truth. Languages without captions in the split are left out.
    """
    if split == "validation" and kind(profile) == PAPER:
        rows = split_pairs(corpus, "validation")
        _, first, truth = np.unique(rows["en"].to_numpy(dtype=str), return_index=True, return_inverse=True)
        targets = np.load(_targets_path(profile), mmap_mode="r")
        gallery = np.asarray(targets[rows["target_row"].to_numpy()[first]], dtype=np.float32)
        gallery /= np.linalg.norm(gallery, axis=1, keepdims=True).clip(1e-12)
        present = [lang for lang in languages if (rows["lang"] == lang).any()]
        if not present:
            raise TomclipError(f"None of the languages {languages} has an M-CLIP validation row: raise "
                               f"paper_data.validation_rows in params/{profile}.yaml (01_data) and run 01 again.")
        return RetrievalQueries(gallery, {lang: list(rows.loc[rows["lang"] == lang, "text"]) for lang in present},
                                {lang: truth[(rows["lang"] == lang).to_numpy()] for lang in present})
    items = retrieval_set(profile, corpus, teacher.image_size, split)
    gallery = teacher.cached_image_embeddings("retrieval" if split == "test" else split, items.images)
    present = [lang for lang in languages if lang in items.captions]
    return RetrievalQueries(gallery, {lang: list(items.captions[lang]) for lang in present},
                            {lang: np.arange(len(items.images)) for lang in present})


def emoji_names(profile: str, corpus: pd.DataFrame) -> pd.DataFrame:
    """The CLDR emoji-name pairs with their Unicode group and split: the profile's own corpus
    (embedded), or the embedded corpus built from CLDR (paper, whose corpus is M-CLIP's)."""
    names = corpus if kind(profile) == EMBEDDED else build_corpus(CorpusConfig())
    return names[names["source"] == "emoji-name"]


def geometry_set(profile: str, corpus: pd.DataFrame, image_size: int, max_items: int | None = None
                 ) -> embedded.RetrievalSet:
    """Images with one caption each per language, for the geometry study (notebook 08): every
    emoji of the corpus, rendered, with its names (embedded), or xFlickr&CO test (paper)."""
    if kind(profile) == EMBEDDED:
        items = embedded.retrieval_set(corpus, image_size, split=None)
    else:
        items = retrieval_set(profile, corpus, image_size)
    keep = slice(0, max_items)
    return embedded.RetrievalSet(items.images[keep], items.captions.iloc[keep], items.groups.iloc[keep])
