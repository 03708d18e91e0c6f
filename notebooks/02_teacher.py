# %% [markdown]
# # 02 · The teacher: a CLIP model that defines the shared space
#
# ToMCLIP distils onto a *frozen* CLIP: its text tower gives the targets, its image tower is what
# the multilingual student is evaluated with. The paper uses OpenAI's CLIP ViT-B/32. Offline there
# is no pretrained CLIP, so the embedded profile builds one the way LiT does, with a pretrained
# tower locked: an open_clip `CustomTextCLIP` whose text tower is the English sentence encoder
# all-MiniLM-L6-v2 (mean pooling, no projection, frozen) and whose small image tower (CLIP's
# modified ResNet, 32 px) is trained here with open_clip's contrastive loss on Fashion-MNIST
# (captions from four templates x class names) and the training emoji (CLDR English names and
# keywords). Why the text side has no trained projection: see `tomclip_lib/models/teacher.py`.
#
# Its English zero-shot accuracy on Fashion-MNIST and its English retrieval of the held-out test
# emoji are the "CLIP (English)" reference numbers for the tables of notebook 04. In the paper
# profile the teacher is OpenAI's CLIP ViT-B/32 (open_clip), loaded as it is (the training
# parameters below then do nothing), and the reference numbers are on CIFAR-100 and xFlickr&CO.

# %% tags=["parameters"]
profile = "embedded"  # which params/<profile>.yaml the Makefile read
image_size = 32  # pixels
width = 16  # stem width of the modified ResNet (channels double at each of its 4 stages)
epochs = 6  # passes over the per-epoch sample below
fashion_per_epoch = 20000  # Fashion-MNIST training images drawn per epoch (of 60,000)
emoji_repeats = 4.0  # draws of each training emoji per epoch
zero_shot_limit = None  # a class-balanced subset of Fashion-MNIST test (None: all 10,000)
n_boot = 10000  # bootstrap resamples for the 95% intervals
seed = 0

# %%
import numpy as np
import pandas as pd
from IPython.display import display

from tomclip_lib import evaluation_sets, plots, records, report
from tomclip_lib.models.teacher import TeacherConfig
from tomclip_lib.stages import teacher as teacher_stage

# %% [markdown]
# ## Train (or load) the teacher
# The text tower is frozen, so the captions are encoded once; each step encodes a batch of images
# and pulls each towards its caption. Validation and test emoji of the corpus are never shown.

# %%
corpus = records.load_corpus(profile)
config = TeacherConfig(
    image_size=image_size,
    width=width,
    epochs=epochs,
    fashion_per_epoch=fashion_per_epoch,
    emoji_repeats=emoji_repeats,
    seed=seed,
)
teacher, history = teacher_stage.prepare_teacher(profile, corpus, config)
display(pd.DataFrame(history).round(3))

# %% [markdown]
# ## English reference numbers
# Zero-shot classification of the Fashion-MNIST test images with "a photo of a {class}", and
# retrieval of the held-out test emoji by their English names (both directions).

# %%
images = evaluation_sets.zero_shot_set(profile, teacher.image_size, zero_shot_limit)
items = evaluation_sets.retrieval_set(profile, corpus, teacher.image_size)
reference = teacher_stage.english_reference(teacher, images, items, n_boot)
report.save_table(
    reference,
    "teacher_english_reference",
    profile,
    floatfmt=".3f",
    caption="The teacher in English, 95% bootstrap intervals (notebook 02).",
)
display(reference.round(3))

# %% [markdown]
# ## What the teacher sees
# Held-out test emoji with their English name and the name the teacher ranks first among all
# test names: its errors are mostly near-synonyms, which is what a shared space should do.

# %%
scores = teacher.encode_texts(list(items.captions["en"])) @ teacher.cached_image_embeddings("retrieval", items.images).T
shown = np.random.default_rng(seed).choice(len(items.images), min(12, len(items.images)), replace=False)
names = list(items.captions["en"])
fig = plots.retrieval_examples(
    items.images[shown],
    [names[i] for i in shown],
    [names[j] for j in scores[:, shown].argmax(axis=0)],
    title="Retrieval test: true English caption, and the teacher's first choice",
)
report.save_figure(fig, "teacher_retrieval_examples", profile)

# %% [markdown]
# ## Summary

# %%
# NBVAL_CHECK_OUTPUT
top1 = reference.query("task == 'zero-shot' and metric == 'top1'")["value"].item()
recall = reference.query("task == 'retrieval' and metric == 'text_to_image R@1'")["value"].item()
origin = f"trained {len(history)} epochs" if history else "loaded as published"
print(
    f"teacher ({origin}): English zero-shot top-1 on {images.dataset} {100 * top1:.0f}%; English retrieval "
    f"of {len(items.images)} held-out images, text->image R@1 {100 * recall:.0f}% (chance {100 / len(items.images):.1f}%)"
)

# %%
print(report.peak_memory_note())
