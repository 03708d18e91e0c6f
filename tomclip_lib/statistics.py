"""Paired comparisons of two training methods scored on the same test items with the same seeds:
the interval, its family-wise correction, equivalence within a smallest effect of interest, and
the effect a comparison could detect. docs/statistics.md says why each choice was made.

The data of one comparison is a (seeds, items) matrix D of per-item score differences, model minus
baseline, each cell averaged over languages (an item's translations are one cluster). Its mean
varies with which seeds trained the networks and which items were drawn, crossed: every seed
scores every item. A random-effects model D[s, i] = mu + a_s + b_i + e_si gives the variance of
the mean, sigma_a^2 / S + sigma_b^2 / I + sigma_e^2 / (S I), which the two-way ANOVA's mean squares
estimate without bias as (MS_seed + MS_item - MS_residual) / (S I); the t quantile takes
Satterthwaite's degrees of freedom. When seeds dominate this is the per-seed t interval (S - 1
degrees of freedom), when items dominate the paired item interval; a bootstrap that resamples
3-5 seeds has neither property (its plug-in seed variance is shrunk by (S - 1) / S and it uses
normal quantiles: 72% coverage with 3 seeds, tests/test_statistics.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .errors import TomclipError

VERDICTS = ("better", "worse", "equivalent", "inconclusive")


@dataclass(frozen=True)
class PairedDifference:
    """A paired comparison's estimate: the mean difference, its standard error and degrees of
    freedom, the t interval and two-sided p-value against 0, and the design (seeds, items, how many
    seeds the model won, the share of the variance of the mean that is between seeds)."""

    difference: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    p_value: float
    seeds: int
    items: int
    wins: int
    seed_share: float


def _difference_matrix(differences) -> np.ndarray:
    matrix = np.asarray(differences, dtype=np.float64)
    if matrix.ndim != 2:
        raise TomclipError(
            f"differences must be a (seeds, items) matrix, got shape {matrix.shape}: average over languages "
            f"first, and give a single seed as a (1, items) matrix."
        )
    if matrix.shape[1] < 2:
        raise TomclipError(f"need at least two test items to estimate a variance, got shape {matrix.shape}.")
    if not np.isfinite(matrix).all():
        raise TomclipError("differences contain NaN or inf: score every test item (a miss is 0).")
    return matrix


def exact_mean(values, axis: int | None = None):
    """The mean from exactly rounded sums (math.fsum), whole or along `axis` of a 2-D array. numpy's
    SIMD sums of a small array depend on where its data sits in memory, so the same numbers could
    average to another last bit in another process; these cannot."""
    array = np.asarray(values, dtype=np.float64)
    if axis is None:
        return math.fsum(array.ravel()) / array.size
    rows = array if axis == 1 else array.T
    return np.array([math.fsum(row) for row in rows]) / rows.shape[1]


def _exact_variance(values: np.ndarray) -> float:
    """Sample variance (ddof 1) of a 1-D array, from exactly rounded sums."""
    return math.fsum((values - exact_mean(values)) ** 2) / (len(values) - 1)


def mean_squares(differences) -> tuple[float, float, float]:
    """The two-way ANOVA's mean squares of a (seeds, items) matrix: (MS_seed, MS_item, MS_residual),
    from exactly rounded sums (exact_mean), so a table repeats to its last bit in any process."""
    matrix = _difference_matrix(differences)
    seeds, items = matrix.shape
    seed_means, item_means = exact_mean(matrix, axis=1), exact_mean(matrix, axis=0)
    residual = matrix - seed_means[:, None] - item_means[None, :] + exact_mean(matrix)
    return (
        float(items * _exact_variance(seed_means)),
        float(seeds * _exact_variance(item_means)),
        math.fsum((residual**2).ravel()) / ((seeds - 1) * (items - 1)),
    )


def _combine(ms_seed, ms_item, ms_residual, seeds: int, items: int):
    """(variance of the mean, Satterthwaite df) from mean squares; arrays work element-wise (the
    coverage simulation draws mean squares by the thousand). The unbiased combination can fall
    below what one margin alone implies; it is floored there, where the truth never is."""
    ms_seed, ms_item, ms_residual = (np.asarray(ms, dtype=np.float64) for ms in (ms_seed, ms_item, ms_residual))
    combined = ms_seed + ms_item - ms_residual
    denominator = ms_seed**2 / (seeds - 1) + ms_item**2 / (items - 1) + ms_residual**2 / ((seeds - 1) * (items - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(denominator > 0, combined**2 / denominator, np.inf)
    floor, floor_df = np.where(ms_seed >= ms_item, ms_seed, ms_item), np.where(ms_seed >= ms_item, seeds - 1, items - 1)
    floored = combined < floor
    return np.where(floored, floor, combined) / (seeds * items), np.where(floored, floor_df, df)


def crossed_variance(differences) -> tuple[float, float, float]:
    """(variance of the mean, Satterthwaite degrees of freedom, seed share) of a (seeds, items)
    matrix under crossed random seed and item effects (_combine). One seed: the paired item
    variance, I - 1 degrees of freedom. Two seeds: 1 degree of freedom whatever Satterthwaite says;
    two seeds that happen to agree make the seed part look small and its estimated degrees of
    freedom large, and the interval then covers 89% where seeds matter (docs/statistics.md)."""
    matrix = _difference_matrix(differences)
    seeds, items = matrix.shape
    if seeds == 1:
        return _exact_variance(matrix[0]) / items, float(items - 1), 0.0
    ms_seed, ms_item, ms_residual = mean_squares(matrix)
    variance, df = _combine(ms_seed, ms_item, ms_residual, seeds, items)
    if seeds == 2:
        df = min(float(df), 1.0)
    between_seeds = max(ms_seed - ms_residual, 0.0) / (seeds * items)
    return float(variance), float(df), float(between_seeds / variance) if variance > 0 else 0.0


def coverage_at(
    ms_seed: float,
    ms_item: float,
    ms_residual: float,
    seeds: int,
    items: int,
    level: float = 0.95,
    reps: int = 20_000,
    seed: int = 0,
) -> float:
    """Simulated coverage of paired_difference's interval in one comparison's regime: the variance
    components its mean squares estimate (each >= 0), its seeds and items. Under the balanced normal
    model the mean and the three mean squares are independent, normal and scaled chi-square, so
    they are drawn directly (reps by the ten thousand in milliseconds; tests/test_statistics.py
    checks this against simulating whole matrices)."""
    if seeds < 2:
        raise TomclipError("coverage_at needs at least two seeds (one seed: the paired t interval, exact).")
    residual = max(ms_residual, 0.0)
    expected_seed, expected_item = max(ms_seed, residual), max(ms_item, residual)
    true_variance = (expected_seed + expected_item - residual) / (seeds * items)
    rng = np.random.default_rng(seed)
    draws = [
        expected * rng.chisquare(df, reps) / df
        for expected, df in (
            (expected_seed, seeds - 1),
            (expected_item, items - 1),
            (residual, (seeds - 1) * (items - 1)),
        )
    ]
    error = rng.normal(0.0, np.sqrt(true_variance), reps)
    variance, df = _combine(*draws, seeds, items)
    return float(np.mean(np.abs(error) <= stats.t.ppf(0.5 + level / 2, df) * np.sqrt(variance)))


def paired_difference(differences, level: float = 0.95) -> PairedDifference:
    """Mean of a (seeds, items) matrix of model - baseline differences with a t interval from the
    crossed variance (crossed_variance): it covers at its level whether seeds or items dominate.

    Covered: which seeds trained the networks and which test items were drawn. Not covered: the
    choice of test set, languages, prompts and hyperparameters (both arms share them)."""
    if not 0 < level < 1:
        raise TomclipError(f"level must lie strictly between 0 and 1 (0.95 for a 95% interval), got {level!r}.")
    matrix = _difference_matrix(differences)
    variance, df, seed_share = crossed_variance(matrix)
    difference, se = exact_mean(matrix), float(np.sqrt(variance))
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    if se > 0:
        p_value = float(2 * stats.t.sf(abs(difference) / se, df))
    else:
        p_value = 1.0 if difference == 0 else 0.0
    return PairedDifference(
        difference=difference,
        se=se,
        df=df,
        ci_low=difference - half,
        ci_high=difference + half,
        p_value=p_value,
        seeds=matrix.shape[0],
        items=matrix.shape[1],
        wins=int((exact_mean(matrix, axis=1) > 0).sum()),
        seed_share=seed_share,
    )


def equivalence_p_value(difference: float, se: float, df: float, delta: float) -> float:
    """p-value of two one-sided t tests (TOST) that the true difference lies within +-delta: the
    larger of the two one-sided p-values; small means "equivalent within delta"."""
    if not delta > 0:
        raise TomclipError(f"the smallest effect of interest must be positive, got {delta!r}.")
    if se == 0:
        return 0.0 if abs(difference) < delta else 1.0
    below = stats.t.sf((difference + delta) / se, df)  # H0: difference <= -delta
    above = stats.t.cdf((difference - delta) / se, df)  # H0: difference >= +delta
    return float(max(below, above))


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control under any dependence), in the
    input order. statsmodels' multipletests(method="holm") computes the same; six lines do not
    warrant the dependency."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or not ((p >= 0) & (p <= 1)).all():
        raise TomclipError(f"p-values must be a 1-d sequence in [0, 1], got {p_values!r}.")
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def minimum_detectable_effect(se: float, df: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The true difference a two-sided t test at `alpha` detects with probability `power`, given
    the comparison's standard error: (t_{1-alpha/2} + t_{power}) * se."""
    return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * se)


def verdict(p_adjusted: float, equivalence_adjusted: float, difference: float, alpha: float = 0.05) -> str:
    """One of VERDICTS from family-adjusted p-values: a difference that the test resolves is
    "better" or "worse" (whatever its size: the table shows it against delta); an unresolved one is
    "equivalent" when TOST places it within +-delta, else "inconclusive"."""
    if p_adjusted < alpha:
        return "better" if difference > 0 else "worse"
    return "equivalent" if equivalence_adjusted < alpha else "inconclusive"


def format_bound(value: float, digits: int = 2, max_digits: int = 8) -> str:
    """A bound with enough decimals to show its side of zero: 0.0449 at 1 digit is "+0.04", not "+0.0"."""
    while digits < max_digits and value != 0 and round(value, digits) == 0:
        digits += 1
    return f"{value:+.{digits}f}"


def simulate_coverage(
    interval: Callable[[np.ndarray], tuple[float, float]],
    *,
    seeds: int,
    items: int,
    seed_sd: float,
    item_sd: float,
    noise_sd: float,
    truth: float = 0.01,
    reps: int = 2000,
    seed: int = 0,
) -> float:
    """Share of `reps` simulated (seeds, items) difference matrices, mu + a_s + b_i + e_si with
    normal effects of the given sds, whose `interval` (a function of the matrix) holds `truth`."""
    rng = np.random.default_rng(seed)
    held = 0
    for _ in range(reps):
        matrix = (
            truth
            + rng.normal(0.0, seed_sd, (seeds, 1))
            + rng.normal(0.0, item_sd, (1, items))
            + rng.normal(0.0, noise_sd, (seeds, items))
        )
        low, high = interval(matrix)
        held += low <= truth <= high
    return held / reps
