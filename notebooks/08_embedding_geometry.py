# %% [markdown]
# # 08 · The geometry of the shared space: modality gap, effective dimension, clusters
#
# "Topological perspectives on optimal multimodal embedding spaces" (arXiv 2405.18867) compares
# CLIP-like spaces by their *modality gap* (images and texts in separate regions), how linearly
# separable the modalities are, and their *effective dimension*, globally and within clusters,
# and finds that the local effective dimension predicts retrieval better than the global one.
# Here we measure the same quantities for our teacher (its image tower against its English text
# tower, and against itself fed other languages) and for the students, on images with a caption
# in each language: every emoji of the corpus, rendered, with its names (embedded profile), or
# xFlickr&CO test (paper profile, which has no Korean). Parameter choices are documented in
# `tomclip_lib/analysis/geometry.py`. In the embedded profile retrieval here ranks all emoji,
# training ones included: this notebook studies geometry, the tables of notebook 04 measure
# generalisation.

# %% tags=["parameters"]
profile = "embedded"  # which params/<profile>.yaml the Makefile read
languages = ["en", "ko", "ja", "zh", "ru", "de"]  # a spread of scripts (those the image set has captions in)
students = ["MCLIP", "ToMCLIP", "ToMA"]  # full-setting students of notebook 03 (first seed)
max_items = None  # images to use (None: all)
min_cluster_size = 15  # HDBSCAN
seed = 0

# %%
from IPython.display import display

from tomclip_lib import evaluation_sets, plots, records, report
from tomclip_lib.analysis import geometry

# %%
teacher = records.load_teacher(profile)
items = evaluation_sets.geometry_set(profile, records.load_corpus(profile), teacher.image_size, max_items)
images = teacher.cached_image_embeddings("geometry", items.images)
encoders = {
    "CLIP (teacher text tower)": teacher.encode_texts,
    **{model: student.encode for model, student in records.load_students(profile, students).items()},
}
captioned = [lang for lang in languages if lang in items.captions]
texts = {(model, lang): encode(list(items.captions[lang])) for model, encode in encoders.items() for lang in captioned}
print(f"{len(images)} images, {len(encoders)} text encoders x {len(captioned)} languages ({', '.join(captioned)})")

# %% [markdown]
# ## Global measures
# Each row is one text space (a model fed one language) against the teacher's images.

# %%
clusters = geometry.sphere_clusters(images, seed=seed, min_cluster_size=min_cluster_size)
global_table, local_table = geometry.study(images, texts, clusters)
report.save_table(
    global_table,
    "geometry_global",
    profile,
    floatfmt=".3f",
    caption="Modality gap, linear separability, effective dimension and R@1 of each text space against the teacher's images.",
)
display(global_table.round(3))

# %% [markdown]
# ## Clusters and local effective dimension
# The teacher's image embeddings are mapped onto a sphere by UMAP and clustered by HDBSCAN; each
# cluster's local effective dimension is measured on its images and captions together.

# %%
report.save_table(local_table, "geometry_clusters", profile, floatfmt=".3f")
fig = plots.scatter_by(
    local_table,
    "local effective rank",
    "R@1",
    "model",
    f"{local_table['cluster'].nunique()} clusters x spaces: local dimension against retrieval",
    size="size",
)
report.save_figure(fig, "geometry_local_dimension", profile)

# %% [markdown]
# ## Which predicts retrieval: local or global effective dimension?

# %%
verdict = geometry.predictiveness(global_table, local_table)
report.save_table(
    verdict,
    "geometry_predictiveness",
    profile,
    floatfmt=".3f",
    caption="Spearman correlation of effective dimension with retrieval R@1.",
)
display(verdict.round(3))

# %% [markdown]
# ## Summary

# %%
print(f"{clusters.max() + 1} clusters ({(clusters == -1).mean():.0%} of images unclustered)")
for row in verdict.itertuples(index=False):
    print(f"{row.measure}: median Spearman {row[2]:.2f}")

# %% [markdown]
# HDBSCAN's clusters rest on UMAP, whose neighbour search goes through numpy's BLAS (not pinned:
# its kernels differ between CPUs), so the clusters and what is measured on them (local effective
# dimension) are not part of the regression; the global measures are.

# %%
# NBVAL_CHECK_OUTPUT
english = global_table[(global_table["language"] == "en")].set_index("model")
print(
    f"teacher, English: modality gap {english.loc['CLIP (teacher text tower)', 'modality gap']:.2f}, "
    f"separability {english.loc['CLIP (teacher text tower)', 'linear separability']:.2f}"
)
for row in verdict[verdict["measure"].str.startswith("global")].itertuples(index=False):
    print(f"{row.measure}: median Spearman {row[2]:.2f}")

# %%
print(report.peak_memory_note())
