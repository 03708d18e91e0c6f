# %% [markdown]
# # 07 · The topology engine: persistence diagrams of a batch, explained and measured
#
# ToMCLIP's contribution is a loss on the *shape* of a batch. This notebook explains it for a
# reader who has never used persistent homology, on real embeddings, and shows the measured cost
# of our implementation next to the reference code's (the method section of the paper, its
# Theorem 1, and `benchmarks/bench_topology.py`).
#
# **The idea in three sentences.** Grow a ball around every embedding of a batch; as the radius
# grows, balls touch and clusters merge. Each merge is a point (birth 0, death = the distance at
# which two clusters joined) of the 0-dimensional *persistence diagram*; for a point cloud these
# deaths are exactly the edge lengths of a minimum spanning tree. ToMCLIP asks the student's batch
# to merge at the same distances as the teacher's batch (L_ta), and its sparsified distance
# matrix to match the teacher's (L_dm).

# %% tags=["parameters"]
profile = "embedded"  # which params/<profile>.yaml the Makefile read
batch_size = 256  # points per batch, as in the paper
eps_grid = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]  # Theorem 1's sparsification levels
reference_calls = 200  # draws of the random (sliced) reference estimator
h1_points = 96  # points for the true Vietoris-Rips H1 comparison (cost grows fast)

# %%
from IPython.display import Markdown, display

from tomclip_lib import plots, records, report
from tomclip_lib.analysis import persistence
from tomclip_lib.data.corpus import build_corpus, split_pairs

# %% [markdown]
# ## Two real batches
# The teacher is the profile's English text tower (embedded: all-MiniLM-L6-v2; paper: CLIP
# ViT-B/32's), fed the English names of emoji from CLDR. As a "student" that has not been
# distilled yet we take the same tower fed the **Korean** names of the same emoji: this is the
# paper's CLIP baseline for non-English prompts. MiniLM's English vocabulary reads much of Hangul
# as unknown tokens, so several Korean names land on the very same point (deaths at 0 below).

# %%
encode = records.load_teacher(profile).encode_texts
names = split_pairs(build_corpus(), "train").query("source == 'emoji-name'")
english = names[names["lang"] == "en"].head(batch_size)
korean = names[names["lang"] == "ko"].set_index("item").loc[english["item"]]
teacher = encode(list(english["text"]))
student = encode(list(korean["text"]))
print(f"{len(teacher)} captions, e.g. {english['text'].iloc[0]!r} / {korean['text'].iloc[0]!r}")

# %% [markdown]
# ## The H0 diagram of a batch
# Every point of the diagram is born at 0, so the diagram is just its list of death times. L_ta
# in our `exact` mode compares the two lists as distributions: sort both, and measure the gap
# between the sorted curves (left). The Korean batch under the English encoder merges at other
# distances than the English one: its diagram is differently shaped.

# %%
deaths = {"teacher, English": persistence.h0_deaths(teacher), "teacher tower, Korean": persistence.h0_deaths(student)}
fig = plots.death_distributions(deaths, f"H0 deaths of a batch of {len(teacher)} emoji names (s = 0.5, normalised)")
report.save_figure(fig, "topology_death_distributions", profile)

# %% [markdown]
# ## What sparsification removes
# The paper removes every edge longer than mean - s * std of the batch's distances (s = 0.5) and
# divides by the largest kept distance. Most edges of the complete graph go; an edge of the
# spanning tree goes only when it is longer than that threshold, that is when it bridges groups
# that lie far apart, so the H0 diagram can lose only its *latest* bars. How many it loses
# depends on how clustered the batch is: the table counts them for this batch.

# %%
display(persistence.sparsification_summary(teacher).round(3))

# %% [markdown]
# **Theorem 1 (executable).** With distances normalised to [0, 1] and removed edges given weight 1,
# sparsifying at eps moves the m(eps) deaths above eps to 1, so the Wasserstein distance between
# the full and the sparsified diagrams is at most m(eps)^(1/p) (1 - eps). This bound is *our
# derivation* from the paper's statement; below it is checked against the exact distance
# (gudhi's definition, diagonal matching allowed) on the teacher batch.

# %%
curve = persistence.theorem_curve(teacher, eps_grid)
fig = plots.theorem_bound(curve, "Theorem 1 on the teacher batch")
report.save_figure(fig, "topology_theorem_bound", profile)
display(curve.round(3))

# %% [markdown]
# ## Why the sliced distance is a 1-D comparison for H0
# The reference code compares diagrams with POT's sliced Wasserstein distance: project the
# points (0, d) on 50 random directions and average 1-D transport costs. The projection of (0, d)
# on a direction at angle theta is d sin(theta), so every projection is the same 1-D comparison
# scaled by |sin(theta)|: the estimate is random, and its mean square is exactly half the squared
# W_2 between the death distributions. Our `exact` mode computes that value directly.

# %%
samples, exact = persistence.reference_draws(student, teacher, reference_calls)
fig = plots.estimate_spread(samples, exact, "The reference's L_ta is a noisy estimate of the exact one")
report.save_figure(fig, "topology_sliced_vs_exact", profile)

# %% [markdown]
# ## H1: graph cycles are not Vietoris-Rips holes
# The reference code also builds an "H1" diagram from the kept edges that are not in the
# spanning forest (weight 0 in every reported run). Without triangles nothing ever fills these
# cycles, so there are O(n^2) of them; true Vietoris-Rips H1 (gudhi, Z/2 coefficients) finds few
# holes. That is why H1 belongs to analysis at small n, not to the training loss.

# %%
display(persistence.h1_comparison(teacher, h1_points))

# %% [markdown]
# ## What it costs
# One step of L_ta(H0) + L_dm (forward and backward, d = 512, float32) against the "floor"
# (distance matrices of both batches and the backward of the student's) and against our
# re-implementation of the reference path, on this machine's kind of device (CUDA when there is
# a GPU, else the CPU). Measured by `benchmarks/bench_topology.py` (`make benchmark`); this
# notebook only reads the table it wrote.

# %%
display(Markdown(persistence.benchmark_table()))

# %% [markdown]
# ## Summary

# %%
# NBVAL_CHECK_OUTPUT
spread = samples.std() / samples.mean()
print(
    f"teacher batch: {len(teacher)} points; H0 bars kept by s = 0.5: "
    f"{len(deaths['teacher, English'])} of {len(teacher) - 1}"
)
print(
    f"exact L_ta(English teacher, Korean under the English tower) = {exact:.3f}; "
    f"reference draws spread {100 * spread:.0f}% around it (relative sd)"
)
print(f"Theorem 1 bound holds at every eps: {bool((curve['actual W_p'] <= curve['bound'] + 1e-9).all())}")

# %%
print(report.peak_memory_note())
