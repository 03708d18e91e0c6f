"""Figures of the companion. Each function draws and returns a matplotlib Figure; saving goes
through `report.save_figure`, so every figure has one style and one place."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import report


def image_grid(images: np.ndarray, captions: list[list[str]], ncols: int = 6, title: str | None = None):
    """Images in a grid, each with several caption lines under it (e.g. one per language)."""
    import matplotlib.pyplot as plt

    report.use_style()
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    lines = max(len(c) for c in captions)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(1.9 * ncols, (1.6 + 0.15 * lines) * nrows), squeeze=False, layout="constrained"
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions):
        ax.axis("on")
        ax.imshow(image, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xlabel("\n".join(caption), fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def grouped_counts(frame: pd.DataFrame, category: str, hue: str, title: str):
    """Horizontal bars: how many rows of `frame` fall in each category, split by `hue`."""
    import matplotlib.pyplot as plt

    report.use_style()
    table = frame.groupby([category, hue]).size().unstack(fill_value=0)
    table = table.loc[table.sum(axis=1).sort_values(kind="stable").index]
    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(table) + 1.2))
    table.plot.barh(stacked=True, ax=ax, width=0.75)
    ax.set_xlabel("count")
    ax.set_ylabel("")
    ax.set_title(title)
    ax.legend(title=hue, loc="lower right")
    return fig


def death_distributions(deaths: dict[str, np.ndarray], title: str):
    """H0 diagrams as L_ta compares them: quantile curves of the deaths (left), histograms (right).

    The exact L_ta (p = 2) is 1/sqrt 2 times the root of the mean squared gap between two quantile
    curves, so the left panel shows the loss as an area.
    """
    import matplotlib.pyplot as plt

    report.use_style()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    for name, values in deaths.items():
        values = np.sort(values)
        left.step(
            (np.arange(len(values)) + 1) / max(len(values), 1),
            values,
            where="post",
            label=f"{name} ({len(values)} bars)",
        )
        right.hist(values, bins=30, alpha=0.5, label=name)
    left.set_xlabel("quantile")
    left.set_ylabel("death (normalised distance)")
    left.set_title("sorted deaths (quantile functions)")
    right.set_xlabel("death (normalised distance)")
    right.set_ylabel("bars")
    right.set_title("distribution of deaths")
    left.legend()
    fig.suptitle(title)
    return fig


def persistence_diagram(diagrams: dict[str, np.ndarray], title: str):
    """Persistence diagrams (birth, death) overlaid, with the diagonal."""
    import matplotlib.pyplot as plt

    report.use_style()
    fig, ax = plt.subplots(figsize=(4.2, 4.0), layout="constrained")
    top = max((float(d[:, 1].max()) for d in diagrams.values() if len(d)), default=1.0) * 1.05
    ax.plot([0, top], [0, top], color="grey", lw=0.8)
    for (name, diagram), marker in zip(diagrams.items(), "os^v"):
        ax.scatter(diagram[:, 0], diagram[:, 1], s=12, alpha=0.6, marker=marker, label=f"{name} ({len(diagram)})")
    ax.set_xlabel("birth")
    ax.set_ylabel("death")
    ax.set_xlim(-0.02 * top, top)
    ax.set_ylim(0, top)
    ax.set_title(title)
    ax.legend(loc="lower right")
    return fig


def theorem_bound(curve: pd.DataFrame, title: str):
    """Theorem 1: the actual W_p between full and sparsified H0 diagrams against the bound."""
    import matplotlib.pyplot as plt

    report.use_style()
    fig, ax = plt.subplots(figsize=(5.2, 3.4), layout="constrained")
    for column, style in (("bound", "--"), ("bar matching", ":"), ("actual W_p", "-")):
        ax.plot(curve["eps"], curve[column], style, marker="o", ms=3, label=column)
    ax.set_xlabel("eps (edges longer than eps removed; distances normalised to [0, 1])")
    ax.set_ylabel("W_2 between H0 diagrams")
    ax.set_title(title)
    ax.legend()
    return fig


def estimate_spread(samples: np.ndarray, exact: float, title: str):
    """Draws of a random estimator against the exact value it estimates."""
    import matplotlib.pyplot as plt

    report.use_style()
    fig, ax = plt.subplots(figsize=(5.2, 3.2), layout="constrained")
    ax.hist(samples, bins=30, color="C0", alpha=0.7, label=f"reference mode, {len(samples)} calls")
    ax.axvline(exact, color="C3", lw=2, label="exact mode")
    ax.axvline(np.sqrt(np.mean(samples**2)), color="k", ls="--", lw=1, label="root mean square of the draws")
    ax.set_xlabel("L_ta (H0)")
    ax.set_ylabel("calls")
    ax.set_title(title)
    ax.legend()
    return fig


def retrieval_examples(images: np.ndarray, truths: list[str], guesses: list[str], ncols: int = 6, title: str = ""):
    """Images with their true caption and the caption a model ranked first (marked when wrong)."""
    captions = [[f"true: {t}", ("✓ " if t == g else "✗ ") + g] for t, g in zip(truths, guesses)]
    return image_grid(images, captions, ncols=ncols, title=title)


def training_curves(logs: dict[str, pd.DataFrame], component: str, title: str):
    """One loss component per training step, one line per run (a rolling mean smooths the noise)."""
    import matplotlib.pyplot as plt

    report.use_style()
    fig, ax = plt.subplots(figsize=(6.2, 3.4), layout="constrained")
    for name, log in logs.items():
        if component in log:
            ax.plot(log["step"], log[component].rolling(20, min_periods=1).mean(), label=name, lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel(component)
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    return fig


def ablation_bars(summary: pd.DataFrame, title: str, metrics=("validation R@1", "retrieval R@1", "zero-shot top-1")):
    """Each setting's mean score with its seed sd as error bars, one group per metric (percent)."""
    import matplotlib.pyplot as plt

    report.use_style()
    fig, ax = plt.subplots(figsize=(max(5.5, 1.1 * len(summary) + 2.5), 3.4), layout="constrained")
    width = 0.8 / len(summary)
    positions = np.arange(len(metrics))
    for i, row in enumerate(summary.itertuples(index=False)):
        row = row._asdict()
        means = [summary.iloc[i][f"{m} mean"] for m in metrics]
        sds = [summary.iloc[i][f"{m} sd"] for m in metrics]
        ax.bar(
            positions + (i - (len(summary) - 1) / 2) * width,
            means,
            width,
            yerr=np.nan_to_num(sds),
            capsize=2,
            label=row["setting"],
        )
    ax.set_xticks(positions, [f"{m} (%)" for m in metrics])
    ax.set_ylabel("mean over seeds, bars = sd")
    ax.set_title(title)
    ax.legend(fontsize=7, ncols=2)
    return fig


def batch_size_curves(runs: pd.DataFrame, metric: str, title: str):
    """A metric against the batch size, one line per model, mean +- sd over seeds (the paper's Figure 5)."""
    import matplotlib.pyplot as plt

    report.use_style()
    fig, ax = plt.subplots(figsize=(5.2, 3.4), layout="constrained")
    for model, part in runs.groupby("model", sort=False):
        stats = part.groupby("batch size")[metric].agg(["mean", "std"]) * 100
        ax.errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=3, label=model)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(runs["batch size"].unique()), [str(b) for b in sorted(runs["batch size"].unique())])
    ax.set_xlabel("batch size")
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(title)
    ax.legend()
    return fig


def tsne_panels(maps: dict[str, dict[str, np.ndarray]], categories: list[str], title: str, legend_columns: int = 4):
    """A grid of 2-D maps: one row per model, one column per language; colour = category."""
    import matplotlib.pyplot as plt

    report.use_style()
    models = list(maps)
    languages = list(next(iter(maps.values())))
    names = list(dict.fromkeys(categories))
    palette = plt.get_cmap("tab20" if len(names) > 10 else "tab10")
    colours = {name: palette(i % palette.N) for i, name in enumerate(names)}
    fig, axes = plt.subplots(
        len(models),
        len(languages),
        figsize=(3.3 * len(languages), 3.0 * len(models)),
        squeeze=False,
        layout="constrained",
    )
    for row, model in enumerate(models):
        for column, language in enumerate(languages):
            ax = axes[row, column]
            points = maps[model][language]
            ax.scatter(points[:, 0], points[:, 1], s=9, c=[colours[c] for c in categories], linewidths=0)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{model} — {language}", fontsize=8)
    handles = [plt.Line2D([], [], marker="o", ls="", color=colours[n], label=n) for n in names]
    fig.legend(handles=handles, loc="outside lower center", ncols=legend_columns, fontsize=7)
    fig.suptitle(title)
    return fig


def sorted_distance_curves(curves: dict[str, np.ndarray], title: str):
    """Sorted normalised pairwise distances of several batches (the paper's Figure 3)."""
    import matplotlib.pyplot as plt

    report.use_style()
    fig, ax = plt.subplots(figsize=(5.6, 3.5), layout="constrained")
    for (name, values), style in zip(curves.items(), ["-", "--", "-.", ":", "-"]):
        ax.plot(np.linspace(0, 1, len(values)), values, style, lw=1.6, label=name)
    ax.set_xlabel("rank of the pair (fraction of all pairs)")
    ax.set_ylabel("distance / largest distance")
    ax.set_title(title)
    ax.legend()
    return fig


def scatter_by(frame: pd.DataFrame, x: str, y: str, hue: str, title: str, size: str | None = None):
    """A scatter of two columns, one colour per value of `hue` (optionally sized by `size`)."""
    import matplotlib.pyplot as plt

    report.use_style()
    fig, ax = plt.subplots(figsize=(5.4, 3.6), layout="constrained")
    for name, part in frame.groupby(hue, sort=False):
        sizes = 8 + 40 * part[size] / frame[size].max() if size else 16
        ax.scatter(part[x], part[y], s=sizes, alpha=0.7, label=name, linewidths=0)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


#: How the coherence figure names each metric, with the side that is more coherent.
COHERENCE_LABELS = {
    "l_ta": "L_ta (lower: more coherent)",
    "l_dm": "L_dm (lower: more coherent)",
    "rank_correlation": "rank correlation of distances (higher)",
    "knn_overlap": "10-NN overlap (higher)",
    "fidelity": "fidelity, mean cosine to target (higher)",
}


def coherence_differences(paired: pd.DataFrame, setting: str, title: str):
    """One panel per coherence metric: each model minus its MCLIP with its 95% interval, drawn so that
    right is always more coherent (lower-is-better metrics as MCLIP minus the model), a zero line
    between; green where the interval is wholly closer to the teacher, red wholly farther."""
    import matplotlib.pyplot as plt

    report.use_style()
    chosen = paired[paired["setting"] == setting]
    metrics = list(dict.fromkeys(chosen["metric"]))
    models = list(dict.fromkeys(chosen["model"]))
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(2.6 * len(metrics), 0.45 * len(models) + 1.4), sharey=True, layout="constrained"
    )
    for ax, metric in zip(np.atleast_1d(axes), metrics):
        rows = chosen[chosen["metric"] == metric].set_index("model").reindex(models)
        sign = 1.0 if rows["more coherent is"].iloc[0] == "higher" else -1.0
        centre = sign * rows["difference"].to_numpy()
        ends = np.sort(sign * rows[["ci_low", "ci_high"]].to_numpy(), axis=1)
        for row, (value, (low, high)) in enumerate(zip(centre, ends)):
            colour = "C2" if low > 0 else "C3" if high < 0 else "0.4"
            ax.errorbar(
                value, row, xerr=[[value - low], [high - value]], fmt="o", color=colour, markersize=3, capsize=2
            )
        ax.axvline(0.0, color="0.2", linewidth=0.8)
        ax.set_title(COHERENCE_LABELS.get(metric, metric), fontsize=8)
        ax.set_xlabel(f"{'model − MCLIP' if sign > 0 else 'MCLIP − model'}  (more coherent →)", fontsize=7, labelpad=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.locator_params(axis="x", nbins=4)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
        ax.xaxis.get_offset_text().set_fontsize(7)
    first = np.atleast_1d(axes)[0]
    first.set_yticks(np.arange(len(models)), models, fontsize=8)
    first.invert_yaxis()
    fig.suptitle(title, fontsize=9)
    return fig


#: How the dose-response figure names each endpoint (the sweep's, stages.sweep.dose_response).
DOSE_LABELS = {
    ("l_ta", "validation"): "L_ta, held-out batches",
    ("fidelity", "validation"): "fidelity, held-out captions",
    ("reciprocal rank", "validation"): "retrieval reciprocal rank, validation",
    ("reciprocal rank", "test"): "retrieval reciprocal rank, test",
}


def dose_response(table: pd.DataFrame, title: str):
    """One panel per endpoint of DOSE_LABELS: each model's difference to MCLIP (95% interval) against
    the topological terms' share of the loss at the best epoch (log axis), turned so that up is always
    closer to the teacher or better (lower-is-better endpoints as MCLIP minus the model); each point
    is labelled with its weight."""
    import matplotlib.pyplot as plt

    report.use_style()
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.4), layout="constrained")
    for ax, ((endpoint, split), label) in zip(axes.flat, DOSE_LABELS.items()):
        rows = table[(table["endpoint"] == endpoint) & (table["split"] == split)]
        for colour, (model, part) in zip(("C0", "C1", "C2"), rows.groupby("model", sort=False)):
            part = part.sort_values("weight")
            sign = 1.0 if part["better is"].iloc[0] == "higher" else -1.0
            centre = sign * part["difference"].to_numpy()
            ends = np.sort(sign * part[["ci_low", "ci_high"]].to_numpy(), axis=1)
            share = 100 * part["loss share"].to_numpy()
            ax.errorbar(
                share,
                centre,
                yerr=[centre - ends[:, 0], ends[:, 1] - centre],
                fmt="o-",
                color=colour,
                markersize=3,
                capsize=2,
                label=model,
            )
            for x, y, weight in zip(share, centre, part["weight"]):
                ax.annotate(f"{weight:.2g}", (x, y), fontsize=5, xytext=(2, 3), textcoords="offset points")
        ax.axhline(0.0, color="0.2", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("topological share of the loss at the best epoch (%)", fontsize=7)
        higher = rows.empty or rows["better is"].iloc[0] == "higher"
        ax.set_ylabel(f"{'model − MCLIP' if higher else 'MCLIP − model'} (up: better)", fontsize=7)
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    return fig


def spaces_overview(views: pd.DataFrame, spaces: pd.DataFrame, title: str):
    """CLIP's space against CLOOB's at a glance: a 2-D UMAP of each main teacher's images and English
    captions (one panel each, coloured by modality), then the modality gap and the linear separability
    of every teacher's English space with their intervals (stages/spaces.py's tables)."""
    import matplotlib.pyplot as plt

    report.use_style()
    teachers = list(dict.fromkeys(views["teacher"]))
    english = spaces[(spaces["model"] == "teacher text tower") & (spaces["language"] == "en")]
    fig, axes = plt.subplots(
        1, len(teachers) + 2, figsize=(3.1 * (len(teachers) + 2), 3.2), layout="constrained", squeeze=False
    )
    for ax, name in zip(axes[0], teachers):
        for (modality, part), colour in zip(views[views["teacher"] == name].groupby("modality"), ["C0", "C1"]):
            ax.scatter(part["x"], part["y"], s=3, alpha=0.5, color=colour, label=modality, linewidths=0)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{name}: UMAP of images and texts", fontsize=8)
        ax.legend(fontsize=7, markerscale=3, loc="best")
    positions = np.arange(len(english))
    for ax, measure, bounds in zip(
        axes[0][len(teachers) :],
        ("modality gap", "linear separability"),
        (("modality gap low", "modality gap high"), ("separability low", "separability high")),
    ):
        values = english[measure].to_numpy()
        errors = [values - english[bounds[0]].to_numpy(), english[bounds[1]].to_numpy() - values]
        ax.errorbar(values, positions, xerr=errors, fmt="o", capsize=3)
        ax.set_yticks(positions, english["teacher"])
        ax.invert_yaxis()
        ax.set_xlabel(f"{measure} (95% interval)")
        ax.set_title(f"{measure}, English", fontsize=8)
    fig.suptitle(title)
    return fig
