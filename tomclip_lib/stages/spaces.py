"""Notebook 08's comparison of spaces (issue 30): CLIP's against CLOOB's, per finding of arXiv 2405.18867.

Teachers: notebook 02's embedded teacher retrained alike (towers, data, epochs, seed) with each objective
of models/cloob.py. Its text tower is a locked MiniLM without projection, so only the image tower differs:
every objective's teacher embeds texts alike (`shares_text_tower` checks the weights on each run), and a
student distilled onto any of them is notebook 03's student, bit for bit; students are measured against
each teacher's images, not retrained. Paper profile: OpenAI's CLIP, and CLOOB from `cloob_checkpoint`.

Each text space (a text tower in one language) is measured against its teacher's images: modality gap and
linear separability (pooled out-of-fold accuracy) with percentile intervals from bootstrap draws over items
shared by every teacher (differences are paired); clusters; local against global dimension (docs/spaces.md).

Verdict rules, declared before any result was seen (`VERDICT_RULES`: statistic, threshold, the side the
finding claims): reproduced when the whole 95% interval lies strictly on the claimed side of the
threshold, not reproduced when strictly on the other, inconclusive otherwise or where not measured.
(a) CLIP's modalities occupy distinct, linearly separable regions: CLIP's English separability > 0.95;
(b) CLOOB's modality gap is smaller than CLIP's: gap(CLOOB) - gap(CLIP), paired over items, < 0;
(c) local effective dimension predicts per-cluster retrieval better than the global one: |rho local| -
    |rho global| on CLIP's clusters > 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .. import report
from ..analysis import geometry
from ..data import embedded
from ..errors import TomclipError
from ..evaluate import retrieval_hits
from ..models.cloob import OBJECTIVES
from ..models.teacher import Teacher, load_cloob_checkpoint, prepare_embedded_teacher, shares_text_tower

CLIP, CLOOB = "infonce", "infoloob+hopfield"  # the two main teachers
LABELS = {"infonce": "CLIP", "infoloob": "InfoLOOB", "infonce+hopfield": "InfoNCE + Hopfield", CLOOB: "CLOOB"}
TEACHER_TEXTS = "CLIP (teacher text tower)"  # notebook 08's name for the teacher's own text tower
TEACHER_ROW = "teacher text tower"  # ... and its name in this comparison's tables
RESAMPLES, PREDICTIVENESS_RESAMPLES, LEVEL, FOLDS = 2000, 1000, 0.95, 5
GAP_BOUNDS, SEPARABILITY_BOUNDS = ("modality gap low", "modality gap high"), ("separability low", "separability high")
PREDICTIVENESS_COLUMNS = ["cluster", "local effective rank", "global effective rank", "R@1"]
CI, VIEW_COLUMNS = ("ci_low", "ci_high"), ["objective", "teacher", "modality", "item", "x", "y"]
REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
#: finding: (claim, statistic, threshold, the side of it the finding claims)
VERDICT_RULES = {
    "a": ("CLIP's modalities occupy distinct, linearly separable regions", "separability (CLIP, English)", 0.95, "above"),
    "b": ("CLOOB's modality gap is smaller than CLIP's", "gap(CLOOB) - gap(CLIP), English", 0.0, "below"),
    "c": ("local effective dimension predicts per-cluster retrieval better than the global one",
          "abs(rho local) - abs(rho global), CLIP", 0.0, "above"),
}  # fmt: skip


def objective_teachers(
    profile: str, teacher: Teacher, corpus: pd.DataFrame, objectives: list[str], cloob_checkpoint=None, log=print
) -> dict[str, Teacher]:
    """One teacher per objective: notebook 02's `teacher` for its own, the others trained alike (cached);
    for a teacher loaded as published (paper), CLIP and the CLOOB checkpoint named, or a message without one."""
    unknown = [o for o in objectives if o not in OBJECTIVES]
    if unknown:
        raise TomclipError(
            f"objectives={objectives!r} (notebook 08's parameters) names unknown ones, {', '.join(unknown)}: "
            f"the teacher's objectives are {', '.join(OBJECTIVES)}."
        )
    if teacher.config is None:
        if cloob_checkpoint is not None and Path(cloob_checkpoint).is_file():
            log(f"CLOOB: the published checkpoint {Path(cloob_checkpoint).name} beside OpenAI's CLIP.")
            return {CLIP: teacher, CLOOB: load_cloob_checkpoint(cloob_checkpoint, device=teacher.device)}
        missing = f"cloob_checkpoint={str(cloob_checkpoint)!r} does not exist" if cloob_checkpoint else None
        log(
            f"{missing or 'No CLOOB checkpoint named (cloob_checkpoint: null)'}: CLOOB is skipped, the tables hold CLIP only."
        )
        return {CLIP: teacher}
    if cloob_checkpoint is not None:
        log("cloob_checkpoint is read by the paper profile only: here every teacher is trained.")
    config = teacher.config
    training = embedded.teacher_training_set(corpus, config.image_size, config.fashion_per_epoch, config.emoji_repeats)
    return {
        objective: teacher
        if objective == config.objective
        else prepare_embedded_teacher(
            profile, replace(config, objective=objective), training.images, training.captions, training.weights, log
        )[0]
        for objective in dict.fromkeys(objectives)
    }


def verdict(low: float, high: float, threshold: float, side: str) -> str:
    """reproduced when [low, high] lies strictly on the claimed `side` of `threshold` ("above" or
    "below"), not reproduced when strictly on the other, inconclusive otherwise or when not measured."""
    if side not in ("above", "below"):
        raise TomclipError(f"side={side!r}: a finding claims a statistic 'above' or 'below' its threshold.")
    if not (np.isfinite(low) and np.isfinite(high)):
        return INCONCLUSIVE
    if low > high:
        raise TomclipError(f"An interval's ends are in the wrong order: [{low}, {high}].")
    above, below = low > threshold, high < threshold
    claimed, other = (above, below) if side == "above" else (below, above)
    return REPRODUCED if claimed else NOT_REPRODUCED if other else INCONCLUSIVE


@dataclass
class Comparison:
    spaces: pd.DataFrame  # one row per (objective, model, language): gap, separability with intervals, ranks, R@1
    differences: pd.DataFrame  # each objective against CLIP, per space both measured, paired over items
    clusters: pd.DataFrame  # one row per (objective, model, language, cluster)
    predictiveness: pd.DataFrame  # one row per objective
    views: pd.DataFrame  # 2-D UMAP of each main teacher's images and English captions
    verdicts: pd.DataFrame  # one row per finding


def compare(
    teacher, teachers, items, texts, seed: int = 0, min_cluster_size: int = 15, resamples=RESAMPLES, clusters=None
):
    """Measure every teacher's spaces against its images: its own English captions, and where its text
    tower is `teacher`'s (notebook 02's), every text space of `texts` ((model, language) -> embeddings);
    `clusters`: `teacher`'s image clusters where the caller has them (geometry.sphere_clusters)."""
    if (TEACHER_TEXTS, "en") not in texts:
        raise TomclipError(f"The comparison needs {TEACHER_TEXTS!r} in English among the text spaces.")
    counts = geometry.bootstrap_counts(len(items.images), resamples, seed)
    rows, local, draws, views = [], [], {}, []
    for objective, other in teachers.items():
        images = other.cached_image_embeddings("geometry", items.images)
        own = texts if shares_text_tower(teacher, other) else {}
        own = own or {(TEACHER_TEXTS, "en"): other.encode_texts(list(items.captions["en"]))}
        reuse = other is teacher and clusters is not None  # notebook 08's clusters: the same call's labels
        labels = clusters if reuse else geometry.sphere_clusters(images, seed=seed, min_cluster_size=min_cluster_size)
        for (model, language), captions in own.items():
            row = {"objective": objective, "teacher": LABELS[objective], "model": model, "language": language}
            row["model"] = TEACHER_ROW if model == TEACHER_TEXTS else model
            measures, draws[objective, row["model"], language], clusters = _measure(
                images, captions, labels, counts, seed
            )
            rows.append(row | measures)
            local += [row | cluster for cluster in clusters]
        if objective in (CLIP, CLOOB):
            views.append(_view(objective, images, own[TEACHER_TEXTS, "en"], seed))
    columns = ["objective", "teacher", "model", "language", "cluster", "size", *PREDICTIVENESS_COLUMNS[1:]]
    spaces, clusters = pd.DataFrame(rows), pd.DataFrame(local, columns=columns)  # columns even without a cluster
    differences, predictive = paired_differences(draws, spaces), predictiveness(clusters, seed=seed)
    views = pd.concat(views, ignore_index=True) if views else pd.DataFrame(columns=VIEW_COLUMNS)
    return Comparison(spaces, differences, clusters, predictive, views, verdicts(spaces, differences, predictive))


def _measure(images, captions, labels, counts, seed: int = 0) -> tuple[dict, dict, list[dict]]:
    """One text space against its images: its measures, their bootstrap draws, one row per cluster."""
    hits = retrieval_hits(geometry.normalize(captions), geometry.normalize(images), ks=(1,))["text_to_image", 1]
    correct = geometry.out_of_fold_correct(images, captions, FOLDS, seed)
    draws = {"modality gap": geometry.gap_draws(images, captions, counts), "linear separability": counts @ correct}
    draws["linear separability"] /= len(correct)
    joint = np.concatenate([geometry.normalize(images), geometry.normalize(captions)])
    measures = {"R@1": float(hits.mean()), "modality gap": geometry.modality_gap(images, captions)}
    measures |= dict(zip(GAP_BOUNDS, geometry.percentile_interval(draws["modality gap"], LEVEL)))
    measures |= {"linear separability": float(correct.mean())}
    measures |= dict(zip(SEPARABILITY_BOUNDS, geometry.percentile_interval(draws["linear separability"], LEVEL)))
    measures |= {"effective rank (texts)": geometry.effective_rank(geometry.normalize(captions))}
    measures |= {"effective rank (images)": geometry.effective_rank(geometry.normalize(images))}
    measures |= {"effective rank (joint)": geometry.effective_rank(joint)}
    clusters = [
        {
            "cluster": int(cluster),
            "size": int((labels == cluster).sum()),
            "local effective rank": geometry.effective_rank(joint[np.concatenate([labels == cluster] * 2)]),
            "global effective rank": measures["effective rank (joint)"],
            "R@1": float(hits[labels == cluster].mean()),
        }
        for cluster in sorted(set(labels.tolist()) - {-1})
    ]
    return measures, draws, clusters


def _view(objective: str, images: np.ndarray, english: np.ndarray, seed: int) -> pd.DataFrame:
    plane = geometry.planar_view(np.concatenate([images, english]), seed=seed)
    modality = np.repeat(["image", "text (English)"], len(images))
    item = np.tile(np.arange(len(images)), 2)
    columns = [objective, LABELS[objective], modality, item, plane[:, 0], plane[:, 1]]
    return pd.DataFrame(dict(zip(VIEW_COLUMNS, columns)))


def paired_differences(draws: dict, spaces: pd.DataFrame) -> pd.DataFrame:
    """Each objective's gap and separability minus CLIP's, per space measured with both, with the
    interval of the paired bootstrap (the same resamples of the same items)."""
    point, rows = spaces.set_index(["objective", "model", "language"]), []
    for (objective, model, language), measures in draws.items():
        clip = (CLIP, model, language)
        if objective == CLIP or clip not in draws:
            continue
        for measure, values in measures.items():
            row = dict(objective=objective, teacher=LABELS[objective], model=model, language=language, measure=measure)
            row["difference"] = float(point.loc[(objective, model, language), measure] - point.loc[clip, measure])
            rows.append(row | dict(zip(CI, geometry.percentile_interval(values - draws[clip][measure], LEVEL))))
    return pd.DataFrame(rows, columns=["objective", "teacher", "model", "language", "measure", "difference", *CI])


def predictiveness(clusters: pd.DataFrame, resamples: int = PREDICTIVENESS_RESAMPLES, seed: int = 0) -> pd.DataFrame:
    """Per objective, over its (space, cluster) rows: geometry.local_against_global."""
    rows = [
        {
            "objective": objective,
            "teacher": LABELS[objective],
            "clusters": part["cluster"].nunique(),
            "spaces": part.groupby(["model", "language"]).ngroups,
            **geometry.local_against_global(*(part[c] for c in PREDICTIVENESS_COLUMNS), resamples, seed),
        }
        for objective, part in clusters.groupby("objective", sort=False)
    ]
    return pd.DataFrame(
        rows, columns=["objective", "teacher", "clusters", "spaces", "rho local", "rho global", "difference", *CI]
    )


def verdicts(spaces: pd.DataFrame, differences: pd.DataFrame, predictive: pd.DataFrame) -> pd.DataFrame:
    """The three findings' verdicts by VERDICT_RULES, one row each with the numbers behind it."""
    english = (spaces["model"] == TEACHER_ROW) & (spaces["language"] == "en")
    clip = spaces[english & (spaces["objective"] == CLIP)]
    paired = differences.query("objective == @CLOOB and model == @TEACHER_ROW and language == 'en'")
    measured = {
        "a": clip[["linear separability", *SEPARABILITY_BOUNDS]].to_numpy(),
        "b": paired[paired["measure"] == "modality gap"][["difference", *CI]].to_numpy(),
        "c": predictive[predictive["objective"] == CLIP][["difference", *CI]].to_numpy(),
    }
    rows = []
    for finding, (claim, statistic, threshold, side) in VERDICT_RULES.items():
        estimate, low, high = measured[finding][0] if len(measured[finding]) else (np.nan,) * 3
        verdict_ = verdict(low, high, threshold, side)
        rows.append(dict(finding=finding, claim=claim, verdict=verdict_, statistic=statistic, estimate=estimate))
        rows[-1] |= {"ci_low": low, "ci_high": high, "threshold": threshold, "claimed side": side}
    return pd.DataFrame(rows)


def verdict_lines(table: pd.DataFrame) -> list[str]:
    """One sentence per finding, from the verdict table's columns."""
    return [
        f"({r['finding']}) {r['claim']}: {r['verdict']}; {r['statistic']} {r['estimate']:.3f} "
        f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}] (reproduced if {r['claimed side']} {r['threshold']:g})"
        if np.isfinite(r["estimate"])
        else f"({r['finding']}) {r['claim']}: {r['verdict']} (not measured: {r['statistic']})"
        for r in table.to_dict("records")
    ]


def save(comparison: Comparison, profile: str) -> None:
    """The comparison's tables under results/<profile>/ (the UMAP views as records, for the figure)."""
    level = f"{LEVEL:.0%} percentile bootstrap over items ({RESAMPLES} resamples)"
    captions = {
        "spaces_global": f"Each teacher's text spaces against its own images; intervals: {level}.",
        "spaces_differences": f"Each teacher minus CLIP on the same spaces and items; paired {level}.",
        "spaces_clusters": "Clusters of each teacher's images (UMAP + HDBSCAN): local effective rank and R@1.",
        "spaces_predictiveness": "Spearman correlation of cluster R@1 with local and global effective rank, "
        f"abs(rho local) - abs(rho global) with a bootstrap over clusters ({PREDICTIVENESS_RESAMPLES} resamples).",
        "spaces_verdicts": "\n\n".join(verdict_lines(comparison.verdicts)),
    }
    frames = [comparison.spaces, comparison.differences, comparison.clusters, comparison.predictiveness]
    for name, frame in zip(captions, [*frames, comparison.verdicts]):
        report.save_table(frame, name, profile, floatfmt=".3f", caption=captions[name])
    report.save_records(comparison.views, "spaces_views", profile)
