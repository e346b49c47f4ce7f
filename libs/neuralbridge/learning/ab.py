"""A/B test statistics: fixed-horizon tests, the sample-ratio check, the sequential test.

The fixed-horizon tests come from scipy:

* :func:`two_proportion_ztest` — the difference of two positive rates; the
  statistic is the signed square root of the 2x2 Pearson chi-square
  (``scipy.stats.chi2_contingency`` without continuity correction), which is the
  pooled two-proportion z-test.
* :func:`welch_ttest` — the difference of two means with unequal variances
  (``scipy.stats.ttest_ind_from_stats(..., equal_var=False)``), from the
  per-arm mean, standard deviation and count the database aggregates.
* :func:`sample_ratio_mismatch` — Pearson's chi-square goodness of fit
  (``scipy.stats.chisquare``) of the observed assignment counts against the
  configured weights; flagged at ``p < 0.001``: the split is broken and no
  metric of the experiment can be trusted.

Those p-values are only valid at one pre-planned look. The hourly analysis
looks again and again, so its decision uses an **always-valid** test instead,
the mixture sequential probability ratio test (mSPRT) of Johari, Pekelis and
Walsh, "Always Valid Inference: Continuous Monitoring of A/B Tests" (2017;
Operations Research 2022), with a normal mixing distribution:

    θ̂ = p̂_B - p̂_A,   V = p̄ (1 - p̄) (1/n_A + 1/n_B)   (pooled, the variance under H0: θ = 0)

    Λ = sqrt(V / (V + τ²)) · exp( τ² θ̂² / (2 V (V + τ²)) )

Λ is the likelihood ratio of θ̂ ~ N(θ, V) integrated over θ ~ N(0, τ²) against
θ = 0. Under H0 it is (asymptotically) a non-negative martingale with mean 1, so
by Ville's inequality ``P(sup_n Λ_n ≥ 1/alpha) ≤ alpha``: the always-valid p-value
``p_n = min(p_{n-1}, 1/Λ_n)`` (``p_0 = 1``) may be looked at after every batch
and rejecting at ``p_n ≤ alpha`` keeps the false-positive rate at most alpha however
often one looks. τ is the scale of the effects we expect (a difference of a few
points of positive rate: ``DEFAULT_TAU = 0.05``); it only trades power between
small and large effects, never validity. The normal approximation is why the
decision also waits for ``AB_TEST_MIN_SAMPLE_SIZE`` rated answers per arm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = [
    "DEFAULT_TAU",
    "SRM_THRESHOLD",
    "SampleRatio",
    "TestResult",
    "always_valid_p_values",
    "msprt_log_likelihood_ratio",
    "sample_ratio_mismatch",
    "two_proportion_ztest",
    "update_always_valid_p",
    "welch_ttest",
]

#: Standard deviation of the normal mixture over the difference of positive rates.
DEFAULT_TAU = 0.05
#: A sample-ratio mismatch is flagged below this chi-square p-value.
SRM_THRESHOLD = 0.001

FloatArray = npt.NDArray[np.float64]


class TestResult(msgspec.Struct, frozen=True, kw_only=True):
    """A fixed-horizon test of B against A: statistic, two-sided p-value, effect B - A."""

    __test__ = False  # not a pytest test class

    statistic: float
    p_value: float
    difference: float


class SampleRatio(msgspec.Struct, frozen=True, kw_only=True):
    """The sample-ratio-mismatch check: chi-square, p-value, and whether it is flagged."""

    observed: list[int]
    expected: list[float]
    statistic: float
    p_value: float
    flagged: bool


def two_proportion_ztest(x_a: int, n_a: int, x_b: int, n_b: int) -> TestResult:
    """Pooled two-proportion z-test of ``x_b / n_b`` against ``x_a / n_a``.

    With no trial in an arm, or every trial a success (or none), there is nothing
    to compare: ``statistic`` 0 and ``p_value`` 1.

    Raises:
        ValueError: a count is negative or successes exceed trials.
    """
    _check_counts(x_a, n_a)
    _check_counts(x_b, n_b)
    if n_a == 0 or n_b == 0:
        return TestResult(statistic=0.0, p_value=1.0, difference=0.0)
    difference = x_b / n_b - x_a / n_a
    successes = x_a + x_b
    if successes in (0, n_a + n_b):
        return TestResult(statistic=0.0, p_value=1.0, difference=difference)
    table = np.array([[x_a, n_a - x_a], [x_b, n_b - x_b]], dtype=np.float64)
    chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    z = math.copysign(math.sqrt(float(chi2)), difference)
    return TestResult(statistic=z, p_value=float(p_value), difference=difference)


def welch_ttest(a: tuple[float, float, int], b: tuple[float, float, int]) -> TestResult | None:
    """Welch's t-test of B's mean against A's, each arm given as ``(mean, std, n)``.

    ``std`` is the sample standard deviation (``ddof=1``). ``None`` when an arm has
    fewer than two values or both arms have no variance (the test is undefined).
    """
    (mean_a, sd_a, n_a), (mean_b, sd_b, n_b) = a, b
    if n_a < 2 or n_b < 2 or (sd_a == 0 and sd_b == 0):
        return None
    result: Any = stats.ttest_ind_from_stats(mean_b, sd_b, n_b, mean_a, sd_a, n_a, equal_var=False)
    return TestResult(
        statistic=float(result.statistic), p_value=float(result.pvalue),
        difference=mean_b - mean_a,
    )  # fmt: skip


def sample_ratio_mismatch(
    observed: Sequence[int], weights: Sequence[float], *, threshold: float = SRM_THRESHOLD
) -> SampleRatio:
    """Chi-square goodness of fit of the assignment counts against the weights.

    Raises:
        ValueError: the lengths differ, fewer than two arms, or a weight is not positive.
    """
    if len(observed) != len(weights) or len(observed) < 2:
        raise ValueError("observed counts and weights must have the same length (at least 2)")
    if any(w <= 0 for w in weights):
        raise ValueError("every weight must be positive")
    total, weight_sum = sum(observed), sum(weights)
    expected = [total * w / weight_sum for w in weights]
    if total == 0:
        return SampleRatio(observed=list(observed), expected=expected, statistic=0.0,
                           p_value=1.0, flagged=False)  # fmt: skip
    result: Any = stats.chisquare(list(observed), f_exp=expected)
    p_value = float(result.pvalue)
    return SampleRatio(
        observed=list(observed), expected=expected, statistic=float(result.statistic),
        p_value=p_value, flagged=p_value < threshold,
    )  # fmt: skip


def msprt_log_likelihood_ratio(
    x_a: npt.ArrayLike, n_a: npt.ArrayLike, x_b: npt.ArrayLike, n_b: npt.ArrayLike,
    *, tau: float = DEFAULT_TAU,
) -> FloatArray:  # fmt: skip
    """``log Λ`` of the normal-mixture SPRT for ``p_B - p_A`` (see the module docstring).

    Element-wise over arrays of cumulative counts (broadcast like numpy), so a
    whole simulation of experiments x looks is one call. Where the variance is 0
    (an empty arm, or all outcomes equal) there is no evidence: ``log Λ = 0``.

    Raises:
        ValueError: ``tau`` is not positive.
    """
    if tau <= 0:
        raise ValueError("tau must be positive")
    xa, na = np.asarray(x_a, dtype=np.float64), np.asarray(n_a, dtype=np.float64)
    xb, nb = np.asarray(x_b, dtype=np.float64), np.asarray(n_b, dtype=np.float64)
    t2 = tau * tau
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (xa + xb) / (na + nb)
        variance = pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)
        theta = xb / nb - xa / na
        llr = 0.5 * np.log(variance / (variance + t2)) + (
            t2 * theta * theta / (2.0 * variance * (variance + t2))
        )
    valid = (na > 0) & (nb > 0) & (variance > 0) & np.isfinite(llr)
    return np.asarray(np.where(valid, llr, 0.0), dtype=np.float64)


def update_always_valid_p(previous: float, log_lr: float) -> float:
    """``min(previous, 1 / Λ)``: the always-valid p-value after one more look."""
    return min(previous, 1.0, math.exp(-log_lr))


def always_valid_p_values(log_lr: npt.ArrayLike) -> FloatArray:
    """Running always-valid p-values along the last axis (the looks) of ``log Λ``."""
    llr = np.asarray(log_lr, dtype=np.float64)
    return np.asarray(np.minimum.accumulate(np.minimum(1.0, np.exp(-llr)), axis=-1))


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"invalid counts: {successes} successes out of {trials} trials")
