"""A/B statistics: the sequential test's error rates under hourly looks, the fixed tests, SRM."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

from neuralbridge.learning.ab import (
    always_valid_p_values,
    msprt_log_likelihood_ratio,
    sample_ratio_mismatch,
    two_proportion_ztest,
    update_always_valid_p,
    welch_ttest,
)

EXPERIMENTS = 1000
LOOKS = 48  # two days of hourly analyses
PER_HOUR = 40  # mean rated answers per arm and hour (Poisson)
MIN_SAMPLES = 300

Counts = tuple[npt.NDArray[np.int64], ...]


def _simulate(seed: int, p_a: float, p_b: float) -> Counts:
    """Cumulative (positives A, rated A, positives B, rated B) per experiment and look."""
    rng = np.random.default_rng(seed)
    n_a = rng.poisson(PER_HOUR, (EXPERIMENTS, LOOKS))
    n_b = rng.poisson(PER_HOUR, (EXPERIMENTS, LOOKS))
    x_a, x_b = rng.binomial(n_a, p_a), rng.binomial(n_b, p_b)
    return tuple(np.cumsum(c, axis=1) for c in (x_a, n_a, x_b, n_b))


def _sequential_decisions(counts: Counts, alpha: float) -> npt.NDArray[np.bool_]:
    """Per experiment: concluded at some look, by the job's rule (running p <= alpha, min n)."""
    x_a, n_a, x_b, n_b = counts
    p = always_valid_p_values(msprt_log_likelihood_ratio(x_a, n_a, x_b, n_b))
    ready = (n_a >= MIN_SAMPLES) & (n_b >= MIN_SAMPLES)
    return np.asarray(((p <= alpha) & ready).any(axis=1))


@pytest.mark.parametrize(("alpha", "base_rate", "seed"), [
    (0.05, 0.30, 11), (0.05, 0.50, 12), (0.05, 0.10, 13), (0.01, 0.30, 14),
])  # fmt: skip
def test_aa_experiments_looked_at_hourly_keep_false_positives_at_alpha(
    alpha: float, base_rate: float, seed: int
) -> None:
    """1,000 A/A experiments, 48 hourly looks each: at most alpha + 1 point conclude."""
    decisions = _sequential_decisions(_simulate(seed, base_rate, base_rate), alpha)
    assert decisions.mean() <= alpha + 0.01


def test_aa_experiments_with_a_fixed_horizon_test_at_every_look_inflate_false_positives() -> None:
    """The same looks with the z-test's p-value conclude far more often than alpha (why mSPRT)."""
    x_a, n_a, x_b, n_b = _simulate(11, 0.30, 0.30)
    pooled = (x_a + x_b) / (n_a + n_b)
    z = (x_b / n_b - x_a / n_a) / np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    ready = (n_a >= MIN_SAMPLES) & (n_b >= MIN_SAMPLES)
    naive = ((2 * stats.norm.sf(np.abs(z)) <= 0.05) & ready).any(axis=1)
    assert naive.mean() > 0.10


def test_real_effect_is_detected_in_the_right_direction() -> None:
    """Positive rate 0.30 vs 0.38: nearly every experiment concludes, always for B."""
    counts = _simulate(21, 0.30, 0.38)
    decisions = _sequential_decisions(counts, 0.05)
    assert decisions.mean() >= 0.95
    x_a, n_a, x_b, n_b = (c[:, -1] for c in counts)
    assert np.all((x_b / n_b > x_a / n_a)[decisions])


def test_ztest_matches_the_pooled_formula() -> None:
    """50/100 vs 65/100: z = 0.15 / sqrt(0.575 * 0.425 * 0.02), two-sided normal p-value."""
    result = two_proportion_ztest(50, 100, 65, 100)
    z = 0.15 / math.sqrt(0.575 * 0.425 * 0.02)
    assert result.statistic == pytest.approx(z, rel=1e-9)
    assert result.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert result.difference == pytest.approx(0.15)
    assert two_proportion_ztest(65, 100, 50, 100).statistic == pytest.approx(-z, rel=1e-9)


def test_ztest_without_variation_or_data_has_no_evidence() -> None:
    """All successes, or an empty arm: statistic 0, p-value 1."""
    assert two_proportion_ztest(10, 10, 20, 20).p_value == 1.0
    assert two_proportion_ztest(0, 0, 3, 5).statistic == 0.0


def test_ztest_rejects_impossible_counts() -> None:
    """More successes than trials is an error naming the counts."""
    with pytest.raises(ValueError, match="11 successes out of 10 trials"):
        two_proportion_ztest(11, 10, 1, 10)


def test_welch_ttest_matches_the_hand_computed_statistic() -> None:
    """[1..5] vs [2,4,..,10]: t = 3 / sqrt(2.5), df = 6.25 / 1.0625 (Welch-Satterthwaite)."""
    a = np.array([1.0, 2, 3, 4, 5])
    b = 2 * a
    result = welch_ttest((a.mean(), a.std(ddof=1), len(a)), (b.mean(), b.std(ddof=1), len(b)))
    assert result is not None
    t = 3 / math.sqrt(2.5)
    assert result.statistic == pytest.approx(t, rel=1e-9)
    assert result.p_value == pytest.approx(2 * stats.t.sf(t, 6.25 / 1.0625), rel=1e-9)
    assert welch_ttest((3.0, 1.0, 1), (4.0, 1.0, 10)) is None


def test_srm_flags_a_55_45_split_of_a_50_50_experiment_at_large_n() -> None:
    """5,500 vs 4,500 sessions for equal weights: p far below 0.001, flagged."""
    result = sample_ratio_mismatch([5500, 4500], [1.0, 1.0])
    assert result.flagged
    assert result.p_value < 1e-20
    assert result.expected == [5000.0, 5000.0]


def test_srm_does_not_flag_chance_imbalance_or_unequal_weights_that_fit() -> None:
    """55/45 of 100 is chance; 7,000/3,000 fits weights 0.7/0.3."""
    assert not sample_ratio_mismatch([55, 45], [1, 1]).flagged
    assert not sample_ratio_mismatch([7000, 3000], [0.7, 0.3]).flagged
    assert sample_ratio_mismatch([5000, 5000], [0.7, 0.3]).flagged


def test_msprt_has_no_evidence_without_variance_and_rejects_bad_tau() -> None:
    """Empty arms or identical outcomes give log LR 0; tau must be positive."""
    llr = msprt_log_likelihood_ratio([0, 5, 3], [0, 5, 10], [0, 5, 4], [10, 5, 0])
    assert llr.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="tau"):
        msprt_log_likelihood_ratio(1, 2, 1, 2, tau=0)


def test_msprt_matches_the_mixture_formula() -> None:
    """300/1000 vs 360/1000: log of sqrt(V/(V+t2)) * exp(t2 d^2 / (2V(V+t2)))."""
    v = 0.33 * 0.67 * (2 / 1000)
    t2 = 0.05**2
    expected = 0.5 * math.log(v / (v + t2)) + t2 * 0.06**2 / (2 * v * (v + t2))
    assert float(msprt_log_likelihood_ratio(300, 1000, 360, 1000)) == pytest.approx(expected)


def test_always_valid_p_never_increases() -> None:
    """The running p-value is the minimum of 1/LR over the looks so far, capped at 1."""
    assert update_always_valid_p(0.2, math.log(2)) == pytest.approx(0.2)
    assert update_always_valid_p(1.0, math.log(4)) == pytest.approx(0.25)
    assert update_always_valid_p(1.0, -3.0) == 1.0
    assert always_valid_p_values([0.0, 2.0, 1.0]).tolist() == pytest.approx(
        [1.0, math.exp(-2), math.exp(-2)]
    )
