# %% [markdown]
# # 03 · Distillation: MCLIP and ToMCLIP students, full and low-resource
#
# The paper's four models differ only in their loss (DEVELOPERS.md, and the weight names in
# `tomclip_lib.topology.AlignmentLoss`):
#
# | model | loss | paper weights |
# |---|---|---|
# | MCLIP | point-wise MSE | - |
# | ToMCLIP(dm) | + distance-matrix MSE | 0.01 |
# | ToMCLIP(ta) | + topological alignment of H0 diagrams | 0.01 |
# | ToMCLIP | + both | 0.01, 0.01 |
#
# Two more objectives act on the same topologically selected edges, as baselines from the ToMA
# code: ToMA (align the directions of difference vectors along each batch's H0-death and
# H1-birth edges) and the topological autoencoder's distance matching (Topo-AE), both at 0.01.
#
# Each is trained in the full setting and in the low-resource one (the paper's 1%; here 6% of the
# training pairs, see docs/data.md), low-resource with several seeds. This is the "GPU training"
# notebook of the paper profile; in the embedded profile it runs on the CPU: the student's
# multilingual-e5-small backbone is frozen, its pooled features are computed once per caption
# (cached), and only the head trains. Every run writes a per-step log of each loss component and
# a checkpoint per epoch under `artifacts/<profile>/students/`, and is reused when it exists.
# The paper profile (params/paper.yaml) fine-tunes all of xlm-roberta-large with a linear head at
# lr 1e-5 on M-CLIP's pairs, with M-CLIP's precomputed CLIP text embeddings as targets.

# %% tags=["parameters"]
profile = "embedded"  # which params/<profile>.yaml the Makefile read
variants = ["MCLIP", "ToMCLIP(dm)", "ToMCLIP(ta)", "ToMCLIP", "ToMA", "Topo-AE"]  # see train.VARIANTS
seeds_full = [0]  # seeds of the full setting
seeds_low = [0, 1, 2]  # seeds of the low-resource setting (mean +- sd in notebook 04)
batch_size = 256  # the paper's
lr = 1e-3  # the paper's 1e-5 fine-tunes all of XLM-R-large; a head on frozen features needs more
max_epochs = 30
patience = 5  # epochs without a lower validation loss
warmup_steps = 100
sparsify = 0.5  # s of the topological terms (the paper's)
mode = "exact"  # L_ta: "exact" (deterministic), "reference" (sliced, random) or "diagram"
backbone = "intfloat/multilingual-e5-small"  # the student's encoder: an asset identity, hub id or folder
head_hidden = 1024  # hidden width of the student's head (None: a single Linear layer, as the paper)
trainable_layers = 0  # backbone layers that train (0: frozen, features cached)
processes = 1  # training processes, one per GPU; above 1 the grid trains under torchrun on the global batch

# %%
import pandas as pd
from IPython.display import display

from tomclip_lib import experiment, numerics, plots, report, sources, train
from tomclip_lib.data.corpus import load_corpus
from tomclip_lib.models.student import StudentConfig

# %% [markdown]
# ## The distillation pairs
# Student inputs are the translated captions (through the frozen backbone, cached, when it does
# not train); targets are the teacher's text embeddings of the English captions. The first run
# computes the backbone features of every caption (a few minutes on two cores); later runs read
# the cache.

# %%
corpus = load_corpus(profile)
student_config = StudentConfig(backbone=backbone, out_dim=sources.target_dim(profile), head_hidden=head_hidden,
                               trainable_layers=trainable_layers)
data = {setting: sources.distillation_data(profile, corpus, student_config, setting) for setting in ("full", "low")}
display(pd.DataFrame({setting: {"training pairs": len(split[0]), "validation pairs": len(split[1])}
                      for setting, split in data.items()}))

# %% [markdown]
# ## Train the grid
# One run per (setting, model, seed); early stopping on the validation loss of the run's own
# objective, and the best epoch's weights are kept. With `processes` above 1 (the paper profile:
# 8, one per GPU) the library starts torchrun for the runs not yet trained, each process holding
# batch_size / processes pairs of every batch and every loss term computed on the whole batch
# (docs/training-at-scale.md); the table below then reads what they wrote.

# %%
base = train.TrainConfig(batch_size=batch_size, lr=lr, max_epochs=max_epochs, patience=patience,
                         warmup_steps=warmup_steps, sparsify=sparsify, mode=mode)
runs = experiment.train_grid(profile, base, student_config, variants, {"full": seeds_full, "low": seeds_low}, data,
                             processes=processes)
experiment.save_runs(profile, runs, student_config, base)
report.save_table(runs.drop(columns="run_dir"), "training_runs", profile, floatfmt=".4f",
                  caption="Student runs: best validation loss (of each run's own objective), epochs, seconds.")
display(runs.drop(columns="run_dir").round(4))

# %% [markdown]
# ## What the losses do during training
# The point-wise term of each model (full setting, first seed) per step: the topological terms
# are weighted 0.01, so all four models descend alike; notebook 04 asks whether they end up
# different where it matters, on images.

# %%
first = runs[(runs["setting"] == "full") & (runs["seed"] == seeds_full[0])]
logs = {row.variant: pd.DataFrame(train.read_log(row.run_dir)) for row in first.itertuples()}
fig = plots.training_curves(logs, "pointwise", "Point-wise loss per step (full setting)")
report.save_figure(fig, "training_pointwise_loss", profile)

# %% [markdown]
# ## Summary

# %%
# NBVAL_CHECK_OUTPUT
print(f"{len(runs)} runs: {len(variants)} models x (full: {len(seeds_full)} seed(s), low-resource: "
      f"{len(seeds_low)} seed(s)); {len(data['full'][0]):,} full and {len(data['low'][0]):,} low-resource pairs")
print("epochs until early stopping, per run: " + ", ".join(str(e) for e in runs["epochs"]))

# %%
print(report.peak_memory_note())
print(numerics.describe())  # the kernels and threads these runs trained with (numerics.env)
