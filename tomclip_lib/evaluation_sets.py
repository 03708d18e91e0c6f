"""The evaluation sets of a profile, behind one set of calls, so that every notebook has one code path.

Embedded: Fashion-MNIST test (zero-shot), the held-out emoji rendered with their CLDR names
(retrieval, "xEmoji"). Paper: CIFAR-100 test and xFlickr&CO test. Which kind a profile reads is
notebook 01's record (records.kind). The CLDR emoji names stay the caption set of the figures (06)
in both kinds: they are the one offline caption set with a category per caption and every
language, Korean included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image, ImageOps

from . import records
from .data import embedded
from .data.corpus import CorpusConfig, build_corpus, split_pairs
from .data.images import read_images
from .data.paper_sources import XFLICKRCO_EVALUATED, load_cifar100_test, load_xflickrco
from .errors import TomclipError
from .evaluate import RetrievalQueries
from .models.teacher import Teacher


def zero_shot_set(profile: str, image_size: int, limit: int | None = None) -> embedded.ZeroShotSet:
    """Fashion-MNIST test (embedded) or CIFAR-100 test (paper); `limit` keeps a class-balanced prefix.

    CIFAR-100 stays at its 32 px: the teacher's own open_clip preprocessing upsamples it (bicubic;
    the reference resizes bilinearly, see PAPER_SOURCES.md for why this keeps open_clip's).
    """
    if records.kind(profile) == records.EMBEDDED:
        return embedded.fashion_mnist_test(image_size, limit)
    data = records.paper_data(profile)
    images, labels, _ = load_cifar100_test(data.cifar100_root, verify=data.verify_cifar100)
    if limit is not None:
        keep = np.sort(np.concatenate([np.flatnonzero(labels == k)[: max(1, limit // 100)] for k in range(100)]))
        images, labels = images[keep], labels[keep]
    return embedded.ZeroShotSet("cifar-100", images, labels)


def retrieval_set(profile: str, corpus: pd.DataFrame, image_size: int, split: str = "test") -> embedded.RetrievalSet:
    """Held-out emoji and their names (embedded) or xFlickr&CO test (paper), one caption per image
    and language; the paper's languages that xFlickr&CO lacks (ko fr it vi da pl) have no column."""
    if records.kind(profile) == records.EMBEDDED:
        return embedded.emoji_retrieval_set(corpus, image_size, split)
    if split != "test":
        raise TomclipError(
            f"xFlickr&CO has only a test split here, not {split!r}; "
            "the paper profile tunes on M-CLIP's validation rows."
        )
    data = records.paper_data(profile)
    pairs = {lang: load_xflickrco(data.xflickrco_annotations, data.image_roots, lang) for lang in XFLICKRCO_EVALUATED}
    files = [path for path, _ in pairs["en"]]
    for lang, rows in pairs.items():
        if [path for path, _ in rows] != files:
            raise TomclipError(
                f"xFlickr&CO {lang}/test.jsonl lists other images than en/test.jsonl; "
                "use the annotations of one IGLUE release for every language."
            )
    captions = pd.DataFrame(
        {lang: [caption for _, caption in rows] for lang, rows in pairs.items()},
        index=pd.Index([path.name for path in files], name="item"),
    )
    groups = pd.Series(
        ["COCO" if path.name.startswith("COCO_") else "Flickr30k" for path in files], index=captions.index, name="group"
    )
    return embedded.RetrievalSet(_square(read_images(files), image_size), captions, groups)


def _square(images: list[np.ndarray], size: int) -> np.ndarray:
    """Centre crop to a square and resize to `size` (bicubic), what CLIP's preprocessing does."""
    return np.stack(
        [np.asarray(ImageOps.fit(Image.fromarray(image), (size, size), Image.Resampling.BICUBIC)) for image in images]
    )


def retrieval_queries(
    profile: str, corpus: pd.DataFrame, teacher: Teacher, split: str, languages: list[str]
) -> RetrievalQueries:
    """Captions per language and the gallery they are scored against, for the ablations.

    `test` is notebook 04's retrieval set against the teacher's image embeddings. `validation`, the
    only split to choose settings by, is the validation emoji against their images (embedded) or,
    xFlickr&CO having no validation split, M-CLIP's validation rows (paper): each translation
    against the teacher's embeddings of every distinct English validation caption, its own being
    the truth. Languages without captions in the split are left out.
    """
    if split == "validation" and records.kind(profile) == records.PAPER:
        rows = split_pairs(corpus, "validation")
        _, first, truth = np.unique(rows["en"].to_numpy(dtype=str), return_index=True, return_inverse=True)
        targets = records.teacher_targets(profile)
        gallery = np.asarray(targets[rows["target_row"].to_numpy()[first]], dtype=np.float32)
        gallery /= np.linalg.norm(gallery, axis=1, keepdims=True).clip(1e-12)
        present = [lang for lang in languages if (rows["lang"] == lang).any()]
        if not present:
            raise TomclipError(
                f"None of the languages {languages} has an M-CLIP validation row: raise "
                f"paper_data.validation_rows in params/{profile}.yaml (01_data) and run 01 again."
            )
        return RetrievalQueries(
            gallery,
            {lang: list(rows.loc[rows["lang"] == lang, "text"]) for lang in present},
            {lang: truth[(rows["lang"] == lang).to_numpy()] for lang in present},
        )
    items = retrieval_set(profile, corpus, teacher.image_size, split)
    gallery = teacher.cached_image_embeddings("retrieval" if split == "test" else split, items.images)
    present = [lang for lang in languages if lang in items.captions]
    return RetrievalQueries(
        gallery,
        {lang: list(items.captions[lang]) for lang in present},
        {lang: np.arange(len(items.images)) for lang in present},
    )


def emoji_names(profile: str, corpus: pd.DataFrame) -> pd.DataFrame:
    """The CLDR emoji-name pairs with their Unicode group and split: the profile's own corpus
    (embedded), or the embedded corpus built from CLDR (paper, whose corpus is M-CLIP's)."""
    names = corpus if records.kind(profile) == records.EMBEDDED else build_corpus(CorpusConfig())
    return names[names["source"] == "emoji-name"]


def geometry_set(
    profile: str, corpus: pd.DataFrame, image_size: int, max_items: int | None = None
) -> embedded.RetrievalSet:
    """Images with one caption each per language, for the geometry study (notebook 08): every
    emoji of the corpus, rendered, with its names (embedded), or xFlickr&CO test (paper)."""
    if records.kind(profile) == records.EMBEDDED:
        items = embedded.emoji_retrieval_set(corpus, image_size, split=None)
    else:
        items = retrieval_set(profile, corpus, image_size)
    keep = slice(0, max_items)
    return embedded.RetrievalSet(items.images[keep], items.captions.iloc[keep], items.groups.iloc[keep])
