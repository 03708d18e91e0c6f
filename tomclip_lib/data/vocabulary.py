"""A general English vocabulary for the students trained to convergence: WordNet's nouns.

The corpus names emoji, territories and languages; the paper's captions (MS-COCO, Conceptual
Captions) name everyday things in passing, so its students meet most of CIFAR-100's class names
in training. Ours never read four of Fashion-MNIST's ten (docs/fidelity.md). WordNet's noun index
is a vocabulary chosen by nobody for this test: every noun, as an English pair, read as the noun
itself, in the form of the evaluation's English prompt ("a photo of a sandal"), or in a caption of
the teacher's other templates ("a picture of a sandal", never the prompt itself); the student reads
the text, the teacher's target is the same text. Nouns any of whose texts equals a held-out
caption are left out, so no validation or test caption is trained on.
"""

from __future__ import annotations

import re

import pandas as pd

from .. import assets
from ..errors import TomclipError
from .corpus import unit_hash
from .languages import ENGLISH_ARTICLES, TEACHER_TEMPLATES, fill_template

SOURCE = "wordnet"
#: Nouns of letters, spaces, hyphens and apostrophes: WordNet's index also holds "1st_class" or "a.d.".
_WORD = re.compile(r"[a-z][a-z' -]*")


def wordnet_nouns() -> list[str]:
    """Every noun of WordNet 3.0's index (underscores read as spaces), in the index's order."""
    path = assets.asset_file("wordnet-nouns", "index.noun")
    nouns = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith(" "):  # the licence at the top of the file
                continue
            noun = line.split(" ", 1)[0].replace("_", " ")
            if _WORD.fullmatch(noun):
                nouns.append(noun)
    return nouns


def _article(noun: str) -> str:
    """The English article variant by the first letter ("an apple", "a sandal"; WordNet does not say
    which nouns are plural or uncountable)."""
    return "an" if noun[0] in "aeiou" else "a"


def english_prompt(noun: str) -> str:
    """The evaluation's English prompt around a noun."""
    return fill_template("en", noun, _article(noun))


def english_caption(noun: str) -> str:
    """The noun inside one of the teacher's caption templates that do not make the evaluation's prompt
    ("a picture of a sandal", "an image of a sandal", "a close-up photo of a sandal"), the template
    drawn by a hash of the noun: the prompt's kind of sentence without any test prompt among them."""
    captions = [template.format(ENGLISH_ARTICLES[_article(noun)] + noun) for template in TEACHER_TEMPLATES]
    others = [caption for caption in captions if caption != english_prompt(noun)]
    return others[int(unit_hash("caption|" + noun) * len(others))]


#: How a noun is read: as itself, inside the English zero-shot prompt, or inside one of the teacher's
#: other caption templates.
READERS = {"noun": str, "prompt": english_prompt, "caption": english_caption}
FORMS = tuple(READERS)


def vocabulary_pairs(corpus: pd.DataFrame, size: int | None, form: str = "noun") -> pd.DataFrame:
    """`size` WordNet nouns (None: all, about 116,500) as English training pairs in `form` (FORMS),
    the first in a fixed hashed order, no text equal (ignoring case) to a validation or test caption
    of `corpus` in any form. The nouns and their order are the same in every form."""
    if size is not None and (not isinstance(size, int) or size < 0):
        raise TomclipError(f"The vocabulary's size must be a whole number >= 0 or None (all), got {size!r}.")
    if form not in FORMS:
        raise TomclipError(f"The vocabulary's form must be one of {FORMS}, got {form!r}.")
    held_out = corpus.loc[corpus["split"] != "train", ["en", "text"]]
    excluded = set(pd.concat([held_out["en"], held_out["text"]]).str.casefold())
    nouns = sorted(
        (noun for noun in wordnet_nouns() if not {read(noun).casefold() for read in READERS.values()} & excluded),
        key=lambda noun: unit_hash("vocabulary|" + noun),
    )[:size]
    texts = [READERS[form](noun) for noun in nouns]
    return pd.DataFrame(
        {"item": [f"{SOURCE}:{noun}" for noun in nouns], "source": SOURCE, "lang": "en", "en": texts, "text": texts}
    )
