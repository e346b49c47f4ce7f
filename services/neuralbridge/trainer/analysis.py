"""Seed 000's TrainingDatasetWorker: the daily analysis that may start a training job.

The statistics of the last ``TRAINING_ANALYSIS_WINDOW_HOURS`` (24 h), the two
trigger rules and the adaptive learning rate are the seed's, verbatim, as pure
functions; :func:`run_analysis` is the job: compute, decide, enqueue the
``fine_tune`` or ``distillation`` :class:`JobRequest` on the ``training`` queue
(message id ``<job>@<analysis run id>``, so a retried analysis enqueues once).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import structlog

from neuralbridge.messages.jobs import JobRequest, job_subject
from neuralbridge.trainer import store
from neuralbridge.trainer.errors import InsufficientDataError
from neuralbridge.trainer.recovery import TRAINING_QUEUE
from neuralbridge.trainer.runs import RunContext

__all__ = [
    "BASE_LEARNING_RATE",
    "TrainingStats",
    "calculate_learning_rate",
    "compute_stats",
    "distillation_config",
    "fine_tuning_config",
    "run_analysis",
    "should_trigger_distillation",
    "should_trigger_fine_tuning",
]

log = structlog.get_logger()

BASE_LEARNING_RATE = 0.0001
HIGH_CONFIDENCE = 0.8
POSITIVE_SCORE = 4

JobConfig = dict[str, str | int | float | bool]


class TrainingStats(msgspec.Struct, frozen=True, kw_only=True):
    """Seed 000's 24 h statistics, over the query logs whose ``logged_at`` is in the window.

    Attributes:
        total_queries: Query logs in the window.
        avg_confidence: Mean ``confidence`` of those answers (0.0 when there are none).
        api_b_fallbacks: Those answered by the fallback API B (``fallback_used``).
        high_confidence_responses: Those with ``confidence >= 0.8``.
        user_feedback_available: Those with a user feedback (any score; the latest
            feedback per request counts, whenever it was given).
        positive_feedback: Those whose feedback score is ``>= 4``.
        fallback_rate: ``api_b_fallbacks / total_queries`` (0.0 when there are none).
        feedback_rate: ``user_feedback_available / total_queries`` (0.0 when none).

    Seed 000's example — 1247 queries, 156 fallbacks, 234 with feedback — gives
    ``fallback_rate`` 0.125 and ``feedback_rate`` 0.188 with these definitions.
    """

    total_queries: int
    avg_confidence: float
    api_b_fallbacks: int
    high_confidence_responses: int
    user_feedback_available: int
    positive_feedback: int
    fallback_rate: float
    feedback_rate: float


def compute_stats(raw: store.RawStats) -> TrainingStats:
    """Derive the two rates from the window's counts."""
    total = raw.total_queries
    return TrainingStats(
        total_queries=total,
        avg_confidence=raw.avg_confidence,
        api_b_fallbacks=raw.api_b_fallbacks,
        high_confidence_responses=raw.high_confidence_responses,
        user_feedback_available=raw.user_feedback_available,
        positive_feedback=raw.positive_feedback,
        fallback_rate=raw.api_b_fallbacks / total if total else 0.0,
        feedback_rate=raw.user_feedback_available / total if total else 0.0,
    )


def should_trigger_fine_tuning(stats: TrainingStats) -> bool:
    """Enough positive feedback (>= 50), reasonable confidence (>= 0.6), few fallbacks (< 0.3)."""
    return (
        stats.positive_feedback >= 50 and stats.avg_confidence >= 0.6 and stats.fallback_rate < 0.3
    )


def should_trigger_distillation(stats: TrainingStats) -> bool:
    """Many fallbacks (> 0.4) and enough API B answers to learn from (>= 100)."""
    return stats.fallback_rate > 0.4 and stats.api_b_fallbacks >= 100


def calculate_learning_rate(stats: TrainingStats) -> float:
    """Half the base rate at confidence >= 0.8, the base at >= 0.6, double below."""
    if stats.avg_confidence >= 0.8:
        return BASE_LEARNING_RATE * 0.5  # conservative
    if stats.avg_confidence >= 0.6:
        return BASE_LEARNING_RATE  # normal
    return BASE_LEARNING_RATE * 2.0  # aggressive


def fine_tuning_config(stats: TrainingStats) -> JobConfig:
    """Seed 000's example: 178 positive feedbacks → ``dataset_limit`` 356."""
    return {
        "trigger_reason": "daily_analysis",
        "dataset_limit": stats.positive_feedback * 2,
        "learning_rate": calculate_learning_rate(stats),
        "epochs": 3,
    }


def distillation_config(stats: TrainingStats) -> JobConfig:
    """Every API B answer of the window is a candidate; the job keeps those >= 0.8.

    Seed 000 shows ``sample_limit`` 500 for a hand-made job but no rule for the
    automatic one; we take the window's ``api_b_fallbacks``.
    """
    return {
        "trigger_reason": "daily_analysis",
        "sample_limit": stats.api_b_fallbacks,
        "teacher_confidence_threshold": HIGH_CONFIDENCE,
    }


async def run_analysis(run: RunContext) -> dict[str, Any]:
    """The ``training_dataset_analysis`` job."""
    until = run.clock()
    since = until - timedelta(hours=run.settings.training_analysis_window_hours)
    stats = compute_stats(await store.raw_stats(run.pool, since, until))
    await run.progress(50.0, "statistics")
    log.info("training_data_analysis", total_queries=stats.total_queries,
             fallback_rate=round(stats.fallback_rate, 3),
             avg_confidence=round(stats.avg_confidence, 3),
             feedback_rate=round(stats.feedback_rate, 3))  # fmt: skip
    minimum = run.settings.training_analysis_min_queries
    if stats.total_queries < minimum:
        raise InsufficientDataError(
            f"insufficient data: {stats.total_queries} queries in the window "
            f"(at least {minimum} needed)"
        )
    results: dict[str, Any] = {
        "window": {"since": since.isoformat(), "until": until.isoformat()},
        "stats": msgspec.to_builtins(stats),
        "decision": "no_action_needed",
    }
    if should_trigger_fine_tuning(stats):
        job, config = "fine_tune", fine_tuning_config(stats)
    elif should_trigger_distillation(stats):
        job, config = "distillation", distillation_config(stats)
    else:
        log.info("training_not_needed")
        return results
    msg_id = await _enqueue(run, job, config)
    log.info("training_job_triggered", triggered=job, config=config)
    return {**results, "decision": job, "config": config, "enqueued": msg_id}


async def _enqueue(run: RunContext, job: str, config: JobConfig) -> str:
    parent = run.request
    request = JobRequest(
        job=job, queue=TRAINING_QUEUE, trigger=parent.trigger, tick=parent.tick,
        requested_at=run.clock().isoformat(),
        timeout_seconds=run.settings.training_job_timeout_seconds, config=config,
    )  # fmt: skip
    msg_id = f"{job}@{run.run_id}"
    await run.bus.publish(job_subject(TRAINING_QUEUE, job), request, msg_id=msg_id)
    return msg_id
