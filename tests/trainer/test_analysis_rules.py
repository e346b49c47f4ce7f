"""Seed 000's statistics, trigger rules, learning rate and error recovery, as pure functions."""

from __future__ import annotations

import msgspec
import pytest

from neuralbridge.trainer.analysis import (
    TrainingStats,
    calculate_learning_rate,
    compute_stats,
    distillation_config,
    fine_tuning_config,
    should_trigger_distillation,
    should_trigger_fine_tuning,
)
from neuralbridge.trainer.errors import (
    CancelRequestedError,
    InsufficientDataError,
    RateLimitedError,
)
from neuralbridge.trainer.recovery import Decision, decide
from neuralbridge.trainer.store import RawStats

SEED_EXAMPLE = RawStats(
    total_queries=1247, avg_confidence=0.73, api_b_fallbacks=156,
    high_confidence_responses=892, user_feedback_available=234, positive_feedback=178,
)  # fmt: skip

FINE_TUNE_EDGE = TrainingStats(
    total_queries=100, avg_confidence=0.6, api_b_fallbacks=29, high_confidence_responses=0,
    user_feedback_available=50, positive_feedback=50, fallback_rate=0.29, feedback_rate=0.5,
)  # fmt: skip
DISTILL_EDGE = msgspec.structs.replace(
    FINE_TUNE_EDGE, total_queries=250, api_b_fallbacks=100, fallback_rate=100 / 240
)


def _with(stats: TrainingStats, **changes: object) -> TrainingStats:
    return msgspec.structs.replace(stats, **changes)


def test_seed_example_stats_give_the_seeds_rates_and_config() -> None:
    """1247 queries, 156 fallbacks, 234 feedbacks → 0.125 and 0.188; dataset_limit 356."""
    stats = compute_stats(SEED_EXAMPLE)
    assert round(stats.fallback_rate, 3) == 0.125
    assert round(stats.feedback_rate, 3) == 0.188
    assert should_trigger_fine_tuning(stats)
    assert not should_trigger_distillation(stats)
    assert fine_tuning_config(stats) == {
        "trigger_reason": "daily_analysis", "dataset_limit": 356,
        "learning_rate": 0.0001, "epochs": 3,
    }  # fmt: skip


def test_compute_stats_with_no_queries_has_zero_rates() -> None:
    """An empty window divides by nothing: both rates are 0.0."""
    stats = compute_stats(RawStats(0, 0.0, 0, 0, 0, 0))
    assert (stats.fallback_rate, stats.feedback_rate) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, True),
        ({"positive_feedback": 49}, False),
        ({"avg_confidence": 0.5999}, False),
        ({"fallback_rate": 0.3}, False),
        ({"fallback_rate": 0.2999}, True),
    ],
    ids=["all-at-edge", "feedback-49", "confidence-below-0.6", "fallback-0.3", "fallback-0.2999"],
)
def test_fine_tuning_trigger_at_rule_boundaries(changes: dict[str, object], expected: bool) -> None:
    """positive_feedback >= 50 and avg_confidence >= 0.6 and fallback_rate < 0.3."""
    assert should_trigger_fine_tuning(_with(FINE_TUNE_EDGE, **changes)) is expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, True),
        ({"fallback_rate": 0.4}, False),
        ({"api_b_fallbacks": 99}, False),
        ({"fallback_rate": 0.4001, "api_b_fallbacks": 100}, True),
    ],
    ids=["edge", "fallback-0.4", "fallbacks-99", "fallback-0.4001"],
)
def test_distillation_trigger_at_rule_boundaries(
    changes: dict[str, object], expected: bool
) -> None:
    """fallback_rate > 0.4 and api_b_fallbacks >= 100."""
    assert should_trigger_distillation(_with(DISTILL_EDGE, **changes)) is expected


@pytest.mark.parametrize(
    ("confidence", "rate"),
    [
        (1.0, 0.00005),
        (0.8, 0.00005),
        (0.7999, 0.0001),
        (0.6, 0.0001),
        (0.5999, 0.0002),
        (0.0, 0.0002),
    ],
)
def test_learning_rate_follows_each_confidence_branch(confidence: float, rate: float) -> None:
    """>= 0.8 → base * 0.5 (conservative); >= 0.6 → base; below → base * 2 (aggressive)."""
    assert calculate_learning_rate(_with(FINE_TUNE_EDGE, avg_confidence=confidence)) == rate


def test_distillation_config_has_the_seeds_fields() -> None:
    """sample_limit = the window's API B answers; teacher threshold 0.8."""
    assert distillation_config(DISTILL_EDGE) == {
        "trigger_reason": "daily_analysis", "sample_limit": 100,
        "teacher_confidence_threshold": 0.8,
    }  # fmt: skip


def _decide(error: BaseException, queue: str = "default", *, cleanup: bool = False,
            attempt: int = 1) -> Decision:  # fmt: skip
    return decide(error, queue=queue, cleanup=cleanup, attempt=attempt,
                  rate_limit_base=300.0, cleanup_delay=1800.0)  # fmt: skip


def test_recovery_rate_limited_waits_attempt_times_five_minutes() -> None:
    """Seed 000: schedule_in(minutes: job.attempt * 5)."""
    assert _decide(RateLimitedError("429"), attempt=1) == Decision("pending", True, 300.0)
    assert _decide(RateLimitedError("429"), attempt=2) == Decision("pending", True, 600.0)


def test_recovery_cancels_insufficient_data_and_requested_cancels() -> None:
    """Insufficient data and a cancel request end the run cancelled, never retried."""
    assert _decide(InsufficientDataError("few")) == Decision("cancelled", False)
    assert _decide(CancelRequestedError("stop"), "training") == Decision("cancelled", False)


def test_recovery_retries_cleanup_and_never_training() -> None:
    """Cleanup: always retry after 30 min; training queue: failed, no retry."""
    assert _decide(RuntimeError("x"), cleanup=True) == Decision("pending", True, 1800.0)
    assert _decide(RuntimeError("x"), "training") == Decision("failed", False)
    assert _decide(RateLimitedError("429"), "training") == Decision("failed", False)
    assert _decide(RuntimeError("x")) == Decision("pending", True, None)
