"""The weekly learning report (seed 001's "Learning Report" job) and how it is read.

* :class:`LearningReport` — one ISO week's summary, stored by the trainer in its
  ``learning_reports`` table (one row per week; a re-run replaces it).
* :class:`LearningReportQuery` / :class:`LearningReportReply` — the
  ``trainer.query.report`` request/reply the CLI (``nb jobs report``) and the
  gateway (``GET /api/learning/report``) use: the latest report, or one week's.

Metric values are ``None`` where the week had nothing to measure (a mean over no
query); a change is ``None`` where it cannot be computed (see :class:`MetricChange`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec

from neuralbridge.core.schemas import Message

__all__ = [
    "WEEK_PATTERN",
    "LearningReport",
    "LearningReportQuery",
    "LearningReportReply",
    "MetricChange",
    "ReportedRun",
    "RunCounts",
    "WeeklyMetrics",
    "parse_week",
    "week_of",
    "week_start",
]

#: An ISO week, ``YYYY-Www`` (e.g. ``2026-W47``).
WEEK_PATTERN = r"^[0-9]{4}-W[0-9]{2}$"
_WEEK = re.compile(WEEK_PATTERN)
Week = Annotated[str, msgspec.Meta(pattern=WEEK_PATTERN)]


def parse_week(week: str) -> datetime:
    """The Monday 00:00 UTC that starts ISO week ``week`` (``YYYY-Www``).

    Raises:
        ValueError: ``week`` is not ``YYYY-Www`` or names a week its year does not have.
    """
    if not _WEEK.match(week):
        raise ValueError(f"week must be YYYY-Www (e.g. 2026-W47), not {week!r}")
    year, number = int(week[:4]), int(week[6:])
    try:
        day = datetime.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"week {week!r} does not exist (ISO year {year})") from None
    return day.replace(tzinfo=UTC)


def week_of(moment: datetime) -> str:
    """The ISO week (``YYYY-Www``, UTC) that ``moment`` falls in."""
    year, number, _ = moment.astimezone(UTC).isocalendar()
    return f"{year:04d}-W{number:02d}"


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of the ISO week ``moment`` falls in."""
    utc = moment.astimezone(UTC)
    monday = utc - timedelta(days=utc.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


class WeeklyMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """One week's numbers, from the trainer's query logs, feedback and job runs.

    Attributes:
        queries: Query logs whose ``logged_at`` is in the week.
        cache_hit_rate: Those answered from the cache, over ``queries``.
        mean_latency_ms: Mean ``latency_ms`` of those queries.
        p95_latency_ms: Their 95th percentile latency (linear interpolation).
        mean_confidence: Mean answer ``confidence``.
        high_confidence_responses: Queries with ``confidence >= 0.8``.
        fallbacks: Queries answered by the fallback API B.
        fallback_rate: ``fallbacks / queries``.
        feedback_rate: Queries of the week that have a feedback, over ``queries``.
        feedback_count: Feedback given in the week (``given_at``; seed 001's
            "feedback collection").
        mean_score: Their mean score (1-5).
        positive_rate: Their share with score >= 4.
        quality_scores: Their count per score, ``"1"`` to ``"5"`` (seed 001's
            "learning example quality scores").
        learning_examples: Queries of the week with positive feedback (score >= 4):
            the examples the training jobs learn from.
        approved_examples: Those a training job already used (``used_for_training``).
        pending_examples: Those not used yet (seed 001's "approval/pending counts").
        job_runs: Job runs started in the week (any job).
        failed_job_runs: Those that ended ``failed``.
        failed_job_rate: ``failed_job_runs`` over the runs that finished
            ``completed`` or ``failed``.
    """

    queries: int
    cache_hit_rate: float | None
    mean_latency_ms: float | None
    p95_latency_ms: float | None
    mean_confidence: float | None
    high_confidence_responses: int
    fallbacks: int
    fallback_rate: float | None
    feedback_rate: float | None
    feedback_count: int
    mean_score: float | None
    positive_rate: float | None
    quality_scores: dict[str, int]
    learning_examples: int
    approved_examples: int
    pending_examples: int
    job_runs: int
    failed_job_runs: int
    failed_job_rate: float | None


class MetricChange(msgspec.Struct, frozen=True, kw_only=True):
    """Week-over-week change of one metric.

    ``absolute`` is ``current - previous``, ``None`` when either is ``None``
    (nothing measured). ``relative`` is ``absolute / previous`` (0.25 = +25 %),
    ``None`` as well when ``previous`` is 0: never a division by zero.
    """

    current: float | None
    previous: float | None
    absolute: float | None
    relative: float | None


class RunCounts(msgspec.Struct, frozen=True, kw_only=True):
    """One job's runs in the week, by final status (``other``: still pending or running)."""

    runs: int
    completed: int
    failed: int
    cancelled: int
    other: int


class ReportedRun(msgspec.Struct, frozen=True, kw_only=True):
    """One job run of the week with its outcome (``results`` as the job returned them)."""

    run_id: str
    job: str
    queue: str
    trigger: str
    status: str
    attempt: int
    started_at: str | None
    finished_at: str | None
    duration_ms: float | None
    error_message: str | None
    results: dict[str, Any] | None


class LearningReport(Message, frozen=True, kw_only=True):
    """Seed 001's weekly learning report for ISO week ``week`` (UTC, Monday to Monday).

    Attributes:
        week: ``YYYY-Www``.
        week_start: Monday 00:00 UTC (inclusive), ISO 8601.
        week_end: The next Monday 00:00 UTC (exclusive).
        complete: Whether the week had ended when the report was generated.
        generated_at: When the report was generated (the trainer's clock).
        run_id: The ``learning_report`` run that generated it.
        previous_week: The week compared with.
        metrics: This week's numbers.
        previous: The previous week's numbers.
        changes: Week-over-week change of every numeric metric, by name.
        jobs: Runs per job name in the week, by status.
        runs: Each run of the week, oldest first (at most 500, the trainer's ``MAX_RUNS``).
        runs_omitted: Runs of the week left out of ``runs`` (the newest beyond the cap).
    """

    week: Week
    week_start: str
    week_end: str
    complete: bool
    generated_at: str
    run_id: str | None = None
    previous_week: Week
    metrics: WeeklyMetrics
    previous: WeeklyMetrics
    changes: dict[str, MetricChange]
    jobs: dict[str, RunCounts]
    runs: list[ReportedRun]
    runs_omitted: int = 0


class LearningReportQuery(Message, frozen=True, kw_only=True):
    """``trainer.query.report``: one week's report, or the latest when ``week`` is None."""

    week: str | None = None


class LearningReportReply(Message, frozen=True, kw_only=True):
    """The report, or why there is none.

    ``error`` is ``not_found`` (no report for that week, or none at all) or
    ``invalid_request`` (``week`` is not ``YYYY-Www``); ``message`` says which.
    """

    report: LearningReport | None = None
    error: Literal["not_found", "invalid_request"] | None = None
    message: str | None = None
