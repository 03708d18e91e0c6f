"""Class names of Fashion-MNIST and CIFAR-100 in the 13 languages, and their zero-shot prompts.

The table `classnames.tsv` ships inside the package; each row gives a class's display name, the
word form its language's template needs (genitive, dative, ...) and the template variant
(article, gender or particle), see `languages.PROMPT_TEMPLATES`.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources

from ..errors import TomclipError
from .languages import check_languages, fill_template

DATASETS = ("fashion-mnist", "cifar-100")

#: CIFAR-100's 20 superclasses ("coarse labels") and their five classes each, for colouring figures.
CIFAR100_SUPERCLASSES = {
    "aquatic mammals": ("beaver", "dolphin", "otter", "seal", "whale"),
    "fish": ("aquarium_fish", "flatfish", "ray", "shark", "trout"),
    "flowers": ("orchid", "poppy", "rose", "sunflower", "tulip"),
    "food containers": ("bottle", "bowl", "can", "cup", "plate"),
    "fruit and vegetables": ("apple", "mushroom", "orange", "pear", "sweet_pepper"),
    "household electrical devices": ("clock", "keyboard", "lamp", "telephone", "television"),
    "household furniture": ("bed", "chair", "couch", "table", "wardrobe"),
    "insects": ("bee", "beetle", "butterfly", "caterpillar", "cockroach"),
    "large carnivores": ("bear", "leopard", "lion", "tiger", "wolf"),
    "large man-made outdoor things": ("bridge", "castle", "house", "road", "skyscraper"),
    "large natural outdoor scenes": ("cloud", "forest", "mountain", "plain", "sea"),
    "large omnivores and herbivores": ("camel", "cattle", "chimpanzee", "elephant", "kangaroo"),
    "medium-sized mammals": ("fox", "porcupine", "possum", "raccoon", "skunk"),
    "non-insect invertebrates": ("crab", "lobster", "snail", "spider", "worm"),
    "people": ("baby", "boy", "girl", "man", "woman"),
    "reptiles": ("crocodile", "dinosaur", "lizard", "snake", "turtle"),
    "small mammals": ("hamster", "mouse", "rabbit", "shrew", "squirrel"),
    "trees": ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"),
    "vehicles 1": ("bicycle", "bus", "motorcycle", "pickup_truck", "train"),
    "vehicles 2": ("lawn_mower", "rocket", "streetcar", "tank", "tractor"),
}


def superclass_of(label: str) -> str:
    """The CIFAR-100 superclass of a fine label, e.g. "aquatic mammals" for "otter"."""
    for superclass, members in CIFAR100_SUPERCLASSES.items():
        if label in members:
            return superclass
    raise TomclipError(f"{label!r} is not a CIFAR-100 class.")


COLUMNS = ("dataset", "index", "label", "lang", "name", "form", "variant")


@dataclass(frozen=True)
class ClassName:
    dataset: str
    index: int
    label: str  # the dataset's own English label, e.g. "aquarium_fish"
    lang: str
    name: str  # display form, e.g. "poisson d'aquarium"
    form: str  # the form the template takes (genitive, dative, ...)
    variant: str  # the template variant, e.g. "m", "f", "an", "이"

    def prompt(self, style: str = "natural") -> str:
        """This class's zero-shot prompt; style 'paper' uses the reference code's template."""
        if style == "paper":
            return fill_template(self.lang, self.name, "-", style="paper")
        return fill_template(self.lang, self.form, self.variant, style=style)


@functools.cache
def _table() -> tuple[ClassName, ...]:
    text = resources.files(__package__).joinpath("classnames.tsv").read_text(encoding="utf-8")
    reader = csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise TomclipError(f"classnames.tsv must have the columns {COLUMNS}, found {reader.fieldnames}.")
    return tuple(ClassName(**{**row, "index": int(row["index"])}) for row in reader)


def class_names(dataset: str, lang: str) -> list[ClassName]:
    """The classes of `dataset` in language `lang`, in the dataset's label order."""
    if dataset not in DATASETS:
        raise TomclipError(f"Unknown dataset {dataset!r}; class names exist for {DATASETS}.")
    (lang,) = check_languages(lang)
    rows = sorted((r for r in _table() if r.dataset == dataset and r.lang == lang), key=lambda r: r.index)
    if not rows or [r.index for r in rows] != list(range(len(rows))):
        raise TomclipError(f"classnames.tsv is incomplete for {dataset}/{lang}; see tests/test_classnames.py.")
    return rows


def prompts(dataset: str, lang: str, style: str = "natural") -> list[str]:
    """One zero-shot prompt per class, in label order."""
    return [entry.prompt(style) for entry in class_names(dataset, lang)]
