# %% [markdown]
# # 08 · The geometry of the shared space: modality gap, effective dimension, clusters
#
# "Topological perspectives on optimal multimodal embedding spaces" (arXiv 2405.18867) compares
# CLIP-like spaces by their *modality gap* (images and texts in separate regions), how linearly
# separable the modalities are, and their *effective dimension*, globally and within clusters,
# and finds that the local effective dimension predicts retrieval better than the global one.
# Here we measure the same quantities for our teacher (its image tower against its English text
# tower, and against itself fed other languages) and for the students, on every emoji of the
# corpus (images rendered, names in each language). Parameter choices are documented in
# `tomclip_lib/analysis/geometry.py`. Retrieval here ranks all emoji, training ones included:
# this notebook studies geometry, the tables of notebook 04 measure generalisation.

# %% tags=["parameters"]
profile = "embedded"  # which params/<profile>.yaml the Makefile read
languages = ["en", "ko", "ja", "zh", "ru", "de"]  # a spread of scripts
students = ["MCLIP", "ToMCLIP", "ToMA"]  # full-setting students of notebook 03 (first seed)
max_items = None  # emoji to use (None: all in the corpus)
min_cluster_size = 15  # HDBSCAN
seed = 0

# %%
from IPython.display import display

from tomclip_lib import experiment, plots, report
from tomclip_lib.analysis import geometry
from tomclip_lib.data.corpus import load_corpus
from tomclip_lib.data.images import render_emoji
from tomclip_lib.models.teacher import load_profile_teacher

# %%
corpus = load_corpus(profile)
teacher = load_profile_teacher(profile)
runs, student_config = experiment.load_runs(profile)
names = corpus[corpus["source"] == "emoji-name"].pivot(index="item", columns="lang", values="text")
names = names.head(max_items) if max_items else names
emoji = corpus.drop_duplicates("item").set_index("item").loc[names.index, "emoji"]
images = teacher.cached_image_embeddings("all-emoji", render_emoji(list(emoji), teacher.image_size))
chosen = runs[runs["setting"] == "full"].groupby("variant").first()
encoders = {"CLIP (teacher text tower)": teacher.encode_texts,
            **{model: experiment.load_student(student_config, chosen.loc[model, "run_dir"]).encode
               for model in students if model in chosen.index}}
texts = {(model, lang): encode(list(names[lang])) for model, encode in encoders.items() for lang in languages}
print(f"{len(names)} emoji, {len(encoders)} text encoders x {len(languages)} languages")

# %% [markdown]
# ## Global measures
# Each row is one text space (a model fed one language) against the teacher's images.

# %%
clusters = geometry.sphere_clusters(images, seed=seed, min_cluster_size=min_cluster_size)
global_table, local_table = geometry.study(images, texts, clusters)
report.save_table(global_table, "geometry_global", profile, floatfmt=".3f",
                  caption="Modality gap, linear separability, effective dimension and R@1 of each text space against the teacher's images.")
display(global_table.round(3))

# %% [markdown]
# ## Clusters and local effective dimension
# The teacher's image embeddings are mapped onto a sphere by UMAP and clustered by HDBSCAN; each
# cluster's local effective dimension is measured on its images and captions together.

# %%
report.save_table(local_table, "geometry_clusters", profile, floatfmt=".3f")
fig = plots.scatter_by(local_table, "local effective rank", "R@1", "model",
                       f"{local_table['cluster'].nunique()} clusters x spaces: local dimension against retrieval", size="size")
report.save_figure(fig, "geometry_local_dimension", profile)

# %% [markdown]
# ## Which predicts retrieval: local or global effective dimension?

# %%
verdict = geometry.predictiveness(global_table, local_table)
report.save_table(verdict, "geometry_predictiveness", profile, floatfmt=".3f",
                  caption="Spearman correlation of effective dimension with retrieval R@1.")
display(verdict.round(3))

# %% [markdown]
# ## Summary

# %%
# NBVAL_CHECK_OUTPUT
english = global_table[(global_table["language"] == "en")].set_index("model")
print(f"{clusters.max() + 1} clusters ({(clusters == -1).mean():.0%} of emoji unclustered)")
print(f"teacher, English: modality gap {english.loc['CLIP (teacher text tower)', 'modality gap']:.2f}, "
      f"separability {english.loc['CLIP (teacher text tower)', 'linear separability']:.2f}")
for row in verdict.itertuples(index=False):
    print(f"{row.measure}: median Spearman {row[2]:.2f}")

# %%
print(report.peak_memory_note())
