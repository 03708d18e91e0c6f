"""The class-name table: complete, native, distinct, and prompts that read naturally."""

import re
from collections import Counter
from importlib import resources

import pytest

from tomclip_lib.data import classnames
from tomclip_lib.data.images import FASHION_MNIST_LABELS
from tomclip_lib.data.languages import (
    LANGUAGE_CODES,
    PAPER_TEMPLATES,
    PROMPT_TEMPLATES,
    check_languages,
    korean_particle,
)
from tomclip_lib.errors import TomclipError

SIZES = {"fashion-mnist": 10, "cifar-100": 100}
SCRIPTS = {
    "ko": r"[\uac00-\ud7a3 ]+",
    "ja": r"[\u3040-\u30ff\u4e00-\u9fff ]+",
    "zh": r"[\u4e00-\u9fff]+",
    "ru": r"[\u0400-\u04ff -]+",
}


def loanwords():
    text = resources.files("tomclip_lib.data").joinpath("classnames_loanwords.txt").read_text("utf-8")
    return {tuple(line.split("\t")) for line in text.splitlines() if line and not line.startswith("#")}


@pytest.mark.parametrize("dataset", list(SIZES))
@pytest.mark.parametrize("lang", LANGUAGE_CODES)
def test_every_class_is_named_once_in_every_language(dataset, lang):
    rows = classnames.class_names(dataset, lang)
    assert [r.index for r in rows] == list(range(SIZES[dataset]))
    assert all(r.name and r.form and r.variant in PROMPT_TEMPLATES[lang] for r in rows)
    for field in ("name", "form"):
        counts = Counter(getattr(r, field).casefold() for r in rows)
        assert [w for w, n in counts.items() if n > 1] == [], f"duplicate {field}s in {dataset}/{lang}"


def test_labels_follow_the_datasets_order():
    assert tuple(r.label for r in classnames.class_names("fashion-mnist", "en")) == FASHION_MNIST_LABELS
    cifar = [r.label for r in classnames.class_names("cifar-100", "en")]
    assert cifar == sorted(cifar) and "aquarium_fish" in cifar


def test_no_english_left_except_listed_loanwords():
    allowed, found = loanwords(), set()
    for dataset in SIZES:
        english = {r.index: r.name.casefold() for r in classnames.class_names(dataset, "en")}
        for lang in LANGUAGE_CODES[1:]:
            for row in classnames.class_names(dataset, lang):
                if row.name.casefold() == english[row.index]:
                    found.add((dataset, str(row.index), lang))
    assert found - allowed == set(), "English names left untranslated"
    assert allowed - found == set(), "stale entries in classnames_loanwords.txt"


@pytest.mark.parametrize("lang", list(SCRIPTS))
def test_non_latin_languages_use_their_script(lang):
    for dataset in SIZES:
        for row in classnames.class_names(dataset, lang):
            # A single Latin capital may prefix a native word (Tシャツ, T恤); no Latin words.
            assert not re.search(r"[A-Za-z]{2}", row.name), row
            assert re.fullmatch(SCRIPTS[lang], re.sub(r"^[A-Z]", "", row.name)), row


def test_korean_particles_follow_the_final_consonant():
    assert korean_particle("사과") == "가" and korean_particle("곰") == "이"
    for dataset in SIZES:
        for row in classnames.class_names(dataset, "ko"):
            assert row.variant == korean_particle(row.form), row


def test_natural_prompts_have_no_placeholders_and_keep_the_form():
    for dataset in SIZES:
        for lang in LANGUAGE_CODES:
            for row, prompt in zip(classnames.class_names(dataset, lang), classnames.prompts(dataset, lang)):
                assert row.form in prompt
                assert not re.search(r"\(e\)|\(a\)|/einer|\{\}", prompt), prompt


def test_examples_read_as_a_native_speaker_writes_them():
    def prompt(dataset, label, lang):
        row = next(r for r in classnames.class_names(dataset, lang) if r.label == label)
        return row.prompt()

    assert prompt("cifar-100", "apple", "en") == "a photo of an apple"
    assert prompt("cifar-100", "apple", "fr") == "une photo d'une pomme"
    assert prompt("cifar-100", "lion", "de") == "ein Foto von einem Löwen"
    assert prompt("cifar-100", "apple", "ru") == "фото яблока"
    assert prompt("fashion-mnist", "Bag", "ko") == "가방이 있는 사진"
    assert prompt("fashion-mnist", "T-shirt/top", "ko") == "티셔츠가 있는 사진"


def test_paper_style_uses_the_reference_templates():
    row = classnames.class_names("cifar-100", "fr")[0]
    assert row.prompt("paper") == PAPER_TEMPLATES["fr"].format(row.name)


def test_unknown_inputs_get_clear_errors():
    with pytest.raises(TomclipError, match="Unknown language"):
        check_languages(["en", "xx"])
    with pytest.raises(TomclipError, match="Unknown dataset"):
        classnames.class_names("imagenet", "en")
    with pytest.raises(TomclipError, match="prompt style"):
        classnames.class_names("cifar-100", "en")[0].prompt("fancy")


def test_cifar100_superclasses_partition_the_classes():
    labels = [r.label for r in classnames.class_names("cifar-100", "en")]
    members = [m for group in classnames.CIFAR100_SUPERCLASSES.values() for m in group]
    assert sorted(members) == sorted(labels) and len(classnames.CIFAR100_SUPERCLASSES) == 20
    assert classnames.superclass_of("otter") == "aquatic mammals"
