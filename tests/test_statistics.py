"""The paired comparison's statistics: hand-computed cases, and coverage by simulation in the
regimes notebook 04 runs (seeds dominate zero-shot, items dominate retrieval, both, and many seeds
with few items), with a check that the simulation can fail: the old crossed bootstrap fails it."""

import numpy as np
import pytest
from scipy import stats

from tomclip_lib import statistics
from tomclip_lib.errors import TomclipError

# S = 2 seeds, I = 3 items. Seed means 2, 5; item means 2, 3, 5.5; grand mean 3.5.
# MS_seed = 3 * ((2 - 3.5)^2 + (5 - 3.5)^2) / 1 = 13.5
# MS_item = 2 * ((2 - 3.5)^2 + (3 - 3.5)^2 + (5.5 - 3.5)^2) / 2 = 6.5
# residuals D - seed mean - item mean + 3.5: [.5, .5, -1], [-.5, -.5, 1]; sum of squares 3, MS_res = 3 / (1 * 2) = 1.5
# variance of the mean = (13.5 + 6.5 - 1.5) / 6 = 18.5 / 6
# Satterthwaite df = 18.5^2 / (13.5^2 / 1 + 6.5^2 / 2 + 1.5^2 / 2) = 342.25 / 204.5
HAND = np.array([[1.0, 2.0, 3.0], [3.0, 4.0, 8.0]])


def test_crossed_variance_matches_the_anova_by_hand():
    variance, df, seed_share = statistics.crossed_variance(HAND)
    assert variance == pytest.approx(18.5 / 6)
    assert statistics._combine(*statistics.mean_squares(HAND), 2, 3)[1] == pytest.approx(342.25 / 204.5)
    assert df == 1.0  # two seeds: 1 degree of freedom, not Satterthwaite's 1.67
    assert seed_share == pytest.approx((13.5 - 1.5) / 18.5)


def test_the_interval_is_the_t_interval_with_those_degrees_of_freedom():
    result = statistics.paired_difference(HAND)
    half = stats.t.ppf(0.975, 1.0) * np.sqrt(18.5 / 6)
    assert (result.difference, result.ci_low, result.ci_high) == pytest.approx((3.5, 3.5 - half, 3.5 + half))
    assert (result.seeds, result.items, result.wins) == (2, 3, 2)


def test_when_only_seeds_vary_it_is_the_per_seed_t_interval():
    seed_effects = np.array([0.04, 0.08, 0.13, 0.22, 0.83])  # the audit's per-seed differences (points / 100)
    matrix = np.repeat(seed_effects[:, None], 400, axis=1)
    result = statistics.paired_difference(matrix)
    per_seed = stats.ttest_1samp(seed_effects, 0.0).confidence_interval(0.95)
    assert (result.ci_low, result.ci_high) == pytest.approx((per_seed.low, per_seed.high))
    assert result.df == 4 and result.seed_share == pytest.approx(1.0)
    assert result.ci_low < 0 < result.ci_high  # the audit's point: this "win" is not resolved


def test_with_one_seed_it_is_the_paired_item_t_test():
    rng = np.random.default_rng(3)
    row = rng.normal(0.1, 1.0, 50)
    result = statistics.paired_difference(row[None, :])
    reference = stats.ttest_1samp(row, 0.0)
    assert result.p_value == pytest.approx(reference.pvalue)
    assert (result.ci_low, result.ci_high) == pytest.approx(tuple(reference.confidence_interval(0.95)))


def test_an_estimate_below_either_margin_is_floored_at_it():
    # Rows that cancel item by item: MS_residual is large, the raw combination falls below MS_seed.
    matrix = np.array([[1.0, -1.0, 1.0, -1.0], [-1.0, 1.0, -1.0, 1.0], [1.0, -1.0, 1.0, -1.0]])
    variance, df, _ = statistics.crossed_variance(matrix)
    seed_means, item_means = matrix.mean(axis=1), matrix.mean(axis=0)
    ms_seed, ms_item = 4 * seed_means.var(ddof=1), 3 * item_means.var(ddof=1)
    assert ms_item > ms_seed
    assert variance == pytest.approx(ms_item / 12) and df == 3


def test_holm_by_hand():
    # sorted: .005 * 4 = .02, .01 * 3 = .03, .03 * 2 = .06, .04 * 1 = .04 -> running max .06
    assert statistics.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert statistics.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])


def test_equivalence_by_hand():
    # A zero difference with se 1: each one-sided test has p = P(T > delta); at delta = 1.96 (normal) 0.025.
    assert statistics.equivalence_p_value(0.0, 1.0, 1e9, 1.959964) == pytest.approx(0.025, abs=1e-6)
    # Centred on +delta: the upper test has p = 0.5, so equivalence is never shown.
    assert statistics.equivalence_p_value(1.0, 0.1, 30, 1.0) == pytest.approx(0.5)
    with pytest.raises(TomclipError, match="smallest effect"):
        statistics.equivalence_p_value(0.0, 1.0, 10, 0.0)


def test_the_four_verdicts():
    assert statistics.verdict(0.01, 0.9, +0.3) == "better"
    assert statistics.verdict(0.01, 0.001, -0.1) == "worse"  # resolved, though within delta: the sign is said
    assert statistics.verdict(0.4, 0.01, 0.05) == "equivalent"
    assert statistics.verdict(0.4, 0.2, 0.05) == "inconclusive"


def test_minimum_detectable_effect_is_about_2_8_standard_errors():
    assert statistics.minimum_detectable_effect(0.1, 1e9) == pytest.approx(0.1 * (1.959964 + 0.841621), rel=1e-5)
    assert statistics.minimum_detectable_effect(0.1, 4) > statistics.minimum_detectable_effect(0.1, 100)


def test_bounds_keep_their_side_of_zero():
    assert statistics.format_bound(0.0449, 1) == "+0.04"
    assert statistics.format_bound(-0.0001, 2) == "-0.0001"
    assert statistics.format_bound(0.31, 2) == "+0.31"
    assert statistics.format_bound(0.0, 2) == "+0.00"


@pytest.mark.parametrize(
    "bad, message",
    [(np.zeros(5), r"\(seeds, items\)"), (np.zeros((3, 1)), "two test items"), (np.full((2, 3), np.nan), "NaN")],
)
def test_bad_input_says_what_is_wrong(bad, message):
    with pytest.raises(TomclipError, match=message):
        statistics.paired_difference(bad)


def t_interval(matrix):
    result = statistics.paired_difference(matrix)
    return result.ci_low, result.ci_high


REGIMES = {
    # zero-shot: 10,000 images make the item part negligible; the seed effect decides (5 and 10 seeds)
    "seeds dominate, 5 seeds": dict(seeds=5, items=1000, seed_sd=0.3, item_sd=0.05, noise_sd=0.3),
    "seeds dominate, 10 seeds": dict(seeds=10, items=1000, seed_sd=0.3, item_sd=0.05, noise_sd=0.3),
    # retrieval: a few hundred items, seeds that barely differ
    "items dominate": dict(seeds=5, items=373, seed_sd=0.0, item_sd=0.5, noise_sd=0.5),
    "both": dict(seeds=5, items=373, seed_sd=0.04, item_sd=0.5, noise_sd=0.5),
    "many seeds, few items": dict(seeds=30, items=12, seed_sd=0.05, item_sd=0.3, noise_sd=0.3),
}


@pytest.mark.parametrize("regime", REGIMES)
def test_the_interval_covers_in_every_regime(regime):
    coverage = statistics.simulate_coverage(t_interval, reps=2000, **REGIMES[regime])
    assert 0.93 <= coverage <= 0.97, f"{regime}: coverage {coverage:.3f}"


TWO_SEEDS = {  # the rows trained to convergence (converged_seeds: 2) and the smoke profile's pairs
    "two seeds, seeds matter": dict(seeds=2, items=2000, seed_sd=0.1, item_sd=0.3, noise_sd=0.3),
    "two seeds, items dominate": dict(seeds=2, items=373, seed_sd=0.0, item_sd=0.5, noise_sd=0.5),
}


@pytest.mark.parametrize("regime", TWO_SEEDS)
def test_with_two_seeds_the_interval_covers_at_least_its_level(regime):
    """Satterthwaite's degrees of freedom, estimated from one seed difference, covered 0.89 where seeds
    matter; with 1 degree of freedom the interval is conservative: what two seeds can say."""
    coverage = statistics.simulate_coverage(t_interval, reps=1000, **TWO_SEEDS[regime])
    assert coverage >= 0.95, f"{regime}: coverage {coverage:.3f}"
    assert statistics.paired_difference(np.random.default_rng(0).normal(size=(2, 50))).df == 1.0


def crossed_percentile_bootstrap(matrix, n_boot=400, seed=0):
    """The scheme of tomclip 0.7.0 and before, kept here to show the simulation can fail: seeds and
    items resampled independently, percentile interval."""
    rng = np.random.default_rng(seed)
    seeds, items = matrix.shape
    seed_counts = rng.multinomial(seeds, np.full(seeds, 1 / seeds), size=n_boot)
    item_counts = rng.multinomial(items, np.full(items, 1 / items), size=n_boot)
    means = ((seed_counts @ matrix) * item_counts).sum(axis=1) / (seeds * items)
    return tuple(np.quantile(means, [0.025, 0.975]))


def test_the_simulation_fails_the_old_bootstrap_when_seeds_dominate():
    coverage = statistics.simulate_coverage(
        crossed_percentile_bootstrap, seeds=3, items=50, seed_sd=0.3, item_sd=0.02, noise_sd=0.05, reps=400
    )
    assert coverage < 0.85, f"the crossed bootstrap covered {coverage:.3f} with 3 seeds"


def test_the_fast_coverage_of_one_regime_agrees_with_simulating_whole_matrices():
    """coverage_at draws the mean squares from their distributions; the slow way builds matrices."""
    regime = REGIMES["both"]
    seeds, items = regime["seeds"], regime["items"]
    noise, seed_var, item_var = regime["noise_sd"] ** 2, regime["seed_sd"] ** 2, regime["item_sd"] ** 2
    fast = statistics.coverage_at(noise + items * seed_var, noise + seeds * item_var, noise, seeds, items)
    slow = statistics.simulate_coverage(t_interval, reps=2000, **regime)
    assert abs(fast - slow) < 0.015 and 0.93 <= fast <= 0.97


def test_the_fast_coverage_sees_what_few_seeds_do():
    """Seeds dominating with 3 seeds: the t interval still covers (its df follow the seeds)."""
    assert 0.94 <= statistics.coverage_at(50.0, 1.0, 1.0, 3, 10_000) <= 0.96
