"""The 13 languages of the ToMCLIP evaluation and their zero-shot prompt templates.

`PAPER_TEMPLATES` are the prompts as the reference code writes them, with "un(e)"-style
placeholders for grammatical gender. `PROMPT_TEMPLATES` resolve those placeholders: each language
maps a *variant* (article, gender or particle) to a template, and every class name in
`classnames.tsv` names the variant it takes and the word form the template needs (genitive for
Russian and Polish, dative for German). That way "une photo d'une pomme" and "ein Foto von einem
Löwen" read as a native speaker would write them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TomclipError


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # English name
    native: str  # the language's name for itself
    script: str


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in [
        Language("en", "English", "English", "Latin"),
        Language("ko", "Korean", "한국어", "Hangul"),
        Language("ja", "Japanese", "日本語", "Kana/Kanji"),
        Language("fr", "French", "français", "Latin"),
        Language("es", "Spanish", "español", "Latin"),
        Language("ru", "Russian", "русский", "Cyrillic"),
        Language("it", "Italian", "italiano", "Latin"),
        Language("zh", "Chinese", "中文", "Han"),
        Language("vi", "Vietnamese", "Tiếng Việt", "Latin"),
        Language("da", "Danish", "dansk", "Latin"),
        Language("pl", "Polish", "polski", "Latin"),
        Language("tr", "Turkish", "Türkçe", "Latin"),
        Language("de", "German", "Deutsch", "Latin"),
    ]
}
#: The paper's order, used for every table.
LANGUAGE_CODES: tuple[str, ...] = tuple(LANGUAGES)

PAPER_TEMPLATES: dict[str, str] = {
    "en": "a photo of a {}",
    "ko": "{}가 있는 사진",
    "ja": "{}の写真",
    "fr": "une photo d'un(e) {}",
    "es": "una foto de un(a) {}",
    "ru": "фото {}",
    "it": "una foto di un(a) {}",
    "zh": "一张{}的照片",
    "vi": "một bức ảnh về {}",
    "da": "et billede af en {}",
    "pl": "zdjęcie {}",
    "tr": "{} fotoğrafı",
    "de": "ein Foto von einem/einer {}",
}

#: Variant "-" is the article-free form, for plurals and mass nouns ("a photo of trousers").
PROMPT_TEMPLATES: dict[str, dict[str, str]] = {
    "en": {"a": "a photo of a {}", "an": "a photo of an {}", "-": "a photo of {}"},
    "ko": {"가": "{}가 있는 사진", "이": "{}이 있는 사진"},
    "ja": {"-": "{}の写真"},
    "fr": {"m": "une photo d'un {}", "f": "une photo d'une {}", "-": "une photo de {}"},
    "es": {"m": "una foto de un {}", "f": "una foto de una {}", "-": "una foto de {}"},
    "ru": {"-": "фото {}"},
    "it": {
        "un": "una foto di un {}",
        "uno": "una foto di uno {}",
        "una": "una foto di una {}",
        "un'": "una foto di un'{}",
        "-": "una foto di {}",
    },
    "zh": {"-": "一张{}的照片"},
    "vi": {"-": "một bức ảnh về {}"},
    "da": {"en": "et billede af en {}", "et": "et billede af et {}", "-": "et billede af {}"},
    "pl": {"-": "zdjęcie {}"},
    "tr": {"-": "{} fotoğrafı"},
    "de": {
        "m": "ein Foto von einem {}",
        "n": "ein Foto von einem {}",
        "f": "ein Foto von einer {}",
        "-": "ein Foto von {}",
    },
}


#: Captions for training the embedded teacher: {} takes an English class name with its article
#: (ENGLISH_ARTICLES by the name's variant), e.g. "a picture of an apple", "a photo of trousers".
TEACHER_TEMPLATES = ("a photo of {}", "a picture of {}", "an image of {}", "a close-up photo of {}")
ENGLISH_ARTICLES = {"a": "a ", "an": "an ", "-": ""}


def check_languages(codes) -> tuple[str, ...]:
    """Return `codes` as a tuple if every code is one of the paper's 13; otherwise say which is not."""
    if isinstance(codes, str):
        codes = [codes]
    codes = tuple(codes)
    unknown = [c for c in codes if c not in LANGUAGES]
    if unknown:
        raise TomclipError(
            f"Unknown language code(s) {unknown}. tomclip covers the paper's 13 languages: "
            f"{' '.join(LANGUAGE_CODES)}. To add one, see 'How to add a language' in docs/data.md."
        )
    if not codes:
        raise TomclipError(f"No language given; choose from {' '.join(LANGUAGE_CODES)}.")
    return codes


def evaluated_languages(codes=None) -> list[str]:
    """The languages a notebook evaluates: `codes` checked, or None for the paper's 13 in its order
    (notebooks take None by default, so the 13 are defined here only)."""
    return list(LANGUAGE_CODES if codes is None else check_languages(codes))


def korean_particle(word: str) -> str:
    """The subject particle a Korean noun takes: 이 after a final consonant (batchim), else 가."""
    last = word.rstrip()[-1]
    if "가" <= last <= "힣":
        return "이" if (ord(last) - ord("가")) % 28 else "가"
    raise TomclipError(f"Cannot choose a Korean particle for {word!r}: it does not end in Hangul.")


def fill_template(lang: str, form: str, variant: str, style: str = "natural") -> str:
    """The zero-shot prompt for one class name.

    style="natural" uses the variant-resolved template; style="paper" the reference code's
    template with the dictionary form inserted as is.
    """
    check_languages(lang)
    if style == "paper":
        return PAPER_TEMPLATES[lang].format(form)
    if style != "natural":
        raise TomclipError(f"Unknown prompt style {style!r}; use 'natural' or 'paper'.")
    templates = PROMPT_TEMPLATES[lang]
    if variant not in templates:
        raise TomclipError(
            f"Variant {variant!r} is not defined for language {lang!r}; "
            f"choose one of {sorted(templates)} (see tomclip_lib/data/languages.py)."
        )
    return templates[variant].format(form)
