# %% [markdown]
# # 06 · Figures: how English and Korean sit in the shared space
#
# The paper's qualitative figures, redrawn with our models: (1) t-SNE of English and Korean
# captions from a catalogue, coloured by category (the paper uses fashion product names; we use
# the held-out emoji names coloured by their Unicode group); (2) t-SNE of English and Korean
# CIFAR-100 class prompts for CLIP, MCLIP and ToMCLIP (six panels); (3) sorted pairwise-distance
# curves of English against Korean embeddings; and persistence diagrams of an English teacher batch
# against Korean student batches. "CLIP" is the teacher's own (English) text tower fed Korean;
# MCLIP and ToMCLIP are the full-setting students of notebook 03 (first seed, paper weights).
# The captions are CLDR's emoji names in both profiles (the one caption set we have with a
# category per caption and every language, Korean included); in the paper profile no emoji name
# was seen in distillation, in the embedded one the catalogue of Figure 1 is the held-out emoji.

# %% tags=["parameters"]
profile = "embedded"  # which params/<profile>.yaml the Makefile read
languages = ["en", "ko"]  # the two languages of the figures
catalogue_size = None  # emoji in Figure 1's catalogue (None: every held-out one)
batch_size = 256  # captions in the distance-curve and persistence-diagram batches
diagram_points = 96  # points for the Vietoris-Rips diagrams (H1 costs grow fast)
perplexity = 15.0
seed = 0

# %%
from tomclip_lib import evaluation_sets, plots, records, report
from tomclip_lib.analysis import persistence, views
from tomclip_lib.data.classnames import class_names, prompts, superclass_of
from tomclip_lib.stages.grid import trained_with_topology

# %%
emoji_names = evaluation_sets.emoji_names(profile, records.load_corpus(profile))
teacher = records.load_teacher(profile)
students = records.load_students(profile, ["MCLIP", "ToMCLIP"])  # the first seed of each, full setting
encoders = {"CLIP (teacher text tower)": teacher.encode_texts, **{model: s.encode for model, s in students.items()}}

# %% [markdown]
# ## Figure 1: a catalogue of captions in English and Korean
# The held-out (validation and test) emoji names, never seen in distillation. In a well-aligned
# student the Korean map shows the same groups as the English one.

# %%
names = emoji_names[emoji_names["split"] != "train"]
captions = names.pivot(index="item", columns="lang", values="text").head(catalogue_size)
groups = names.drop_duplicates("item").set_index("item").loc[captions.index, "group"].tolist()
maps = {
    model: views.joint_tsne({lang: encode(list(captions[lang])) for lang in languages}, perplexity, seed)
    for model, encode in encoders.items()
}
report.save_figure(
    plots.tsne_panels(maps, groups, "Held-out emoji names, English and Korean (colour: Unicode group)"),
    "figure1_tsne_emoji_names",
    profile,
)

# %% [markdown]
# ## Figure 2: CIFAR-100 class prompts
# The 100 prompts ("a photo of an otter", "수달이 있는 사진") in English and Korean, coloured by
# CIFAR-100 superclass.

# %%
superclasses = [superclass_of(row.label) for row in class_names("cifar-100", "en")]
maps = {
    model: views.joint_tsne({lang: encode(prompts("cifar-100", lang)) for lang in languages}, perplexity, seed)
    for model, encode in encoders.items()
}
report.save_figure(
    plots.tsne_panels(maps, superclasses, "CIFAR-100 class prompts (colour: superclass)", 5),
    "figure2_tsne_cifar100_prompts",
    profile,
)

# %% [markdown]
# ## Figure 3: sorted pairwise distances
# For one batch of caption pairs, all pairwise distances of the English teacher embeddings and of
# each model's Korean embeddings, sorted and divided by the largest. Matching curves mean matching
# shapes: this is what L_dm and L_ta reward.

# %%
batch = emoji_names[emoji_names["split"] == "train"]
batch = batch.pivot(index="item", columns="lang", values="text").sample(batch_size, random_state=seed)
english = teacher.encode_texts(list(batch["en"]))
korean = {model: encode(list(batch["ko"])) for model, encode in encoders.items()}
curves = {
    "teacher, English": views.sorted_pairwise_distances(english),
    **{f"{model}, Korean": views.sorted_pairwise_distances(x) for model, x in korean.items()},
}
report.save_figure(
    plots.sorted_distance_curves(curves, f"Sorted pairwise distances, {batch_size} captions"),
    "figure3_sorted_distances",
    profile,
)

# %% [markdown]
# ## Persistence diagrams: English teacher against Korean students
# Vietoris-Rips diagrams (H0 and H1, gudhi, Z/2) of the first points of the same batch, distances
# divided by each batch's largest. H0 points sit on the vertical axis (every component is born at
# 0); H1 points are loops.

# %%
overlay = {
    "teacher, English": persistence.rips_diagram(english, diagram_points),
    **{f"{m}, Korean": persistence.rips_diagram(x, diagram_points) for m, x in korean.items()},
}
report.save_figure(
    plots.persistence_diagram(overlay, f"H0 and H1 of {diagram_points} captions"),
    "figure_persistence_diagrams",
    profile,
)

# %% [markdown]
# ## Summary

# %%
gaps = views.curve_gaps(curves, "teacher, English")
for name, gap in gaps.items():
    print(f"{name}: root-mean-square gap to the English teacher's sorted distances {gap:.3f}")

# %% [markdown]
# The regression compares the gaps of the encoders trained without topological terms; a
# topology-trained student's gap moves with the last bits of its training
# (docs/determinism.md).

# %%
# NBVAL_CHECK_OUTPUT
for model in korean:
    if not trained_with_topology(model):
        print(
            f"{model}, Korean: root-mean-square gap to the English teacher's sorted distances {gaps[f'{model}, Korean']:.3f}"
        )

# %%
print(report.peak_memory_note())
