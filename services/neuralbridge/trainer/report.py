"""Seed 001's Learning Report: the weekly summary, stored per ISO week and read over NATS.

The ``learning_report`` job (Monday 09:00) reports the last *complete* ISO week
(UTC, Monday 00:00 to Monday 00:00) before its tick — or before the trainer's
clock for a run by hand; ``config.week`` (``YYYY-Www``) picks a week instead.
It computes :class:`WeeklyMetrics` for that week and the one before from the
trainer's own tables (``query_logs`` by ``logged_at``, ``feedback`` by
``given_at``, ``job_runs`` by start), the week-over-week change of each, and
lists every job run of the week with its status, error and ``results``. The
report is upserted into ``learning_reports`` by week, so a re-run or a
redelivery replaces it. ``trainer.query.report`` answers it
(:func:`answer_report_query`).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import structlog

from neuralbridge.messages.learning import (
    LearningReport,
    LearningReportQuery,
    LearningReportReply,
    MetricChange,
    ReportedRun,
    RunCounts,
    WeeklyMetrics,
    parse_week,
    week_of,
    week_start,
)
from neuralbridge.trainer.errors import CancelRunError
from neuralbridge.trainer.runs import RunContext

__all__ = [
    "MAX_RUNS",
    "answer_report_query",
    "build_report",
    "compare",
    "load_report",
    "report_week",
    "run_learning_report",
    "store_report",
    "weekly_metrics",
]

log = structlog.get_logger()

WEEK = timedelta(days=7)
#: Runs listed one by one in a report (the rest are counted in ``runs_omitted``).
MAX_RUNS = 500
_NO_RUN = uuid.UUID(int=0)
_DIGITS = 4

_QUERY_SQL = """
SELECT count(*) AS queries,
       count(*) FILTER (WHERE q.cached) AS cached,
       avg(q.latency_ms::numeric) AS mean_latency,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY q.latency_ms) AS p95_latency,
       avg(q.confidence::numeric) AS mean_confidence,
       count(*) FILTER (WHERE q.confidence >= 0.8) AS high,
       count(*) FILTER (WHERE q.fallback_used) AS fallbacks,
       count(f.request_id) AS with_feedback,
       count(*) FILTER (WHERE f.score >= 4) AS examples,
       count(*) FILTER (WHERE f.score >= 4 AND q.used_for_training) AS approved
FROM query_logs q LEFT JOIN feedback f ON f.request_id = q.request_id
WHERE q.logged_at >= $1 AND q.logged_at < $2
"""
_FEEDBACK_SQL = """
SELECT score, count(*) AS n FROM feedback WHERE given_at >= $1 AND given_at < $2 GROUP BY score
"""
# Runs of the week: started (or, never started, created) in [$1, $2), except run $3.
_JOBS_SQL = """
SELECT count(*) AS runs, count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status IN ('completed', 'failed')) AS finished
FROM job_runs
WHERE coalesce(started_at, created_at) >= $1 AND coalesce(started_at, created_at) < $2
  AND id <> $3
"""
_JOB_COUNTS_SQL = """
SELECT job, count(*) AS runs, count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled
FROM job_runs
WHERE coalesce(started_at, created_at) >= $1 AND coalesce(started_at, created_at) < $2
  AND id <> $3
GROUP BY job ORDER BY job
"""
_RUNS_SQL = """
SELECT id, job, queue, trigger, status, attempt, started_at, finished_at, error_message, results
FROM job_runs
WHERE coalesce(started_at, created_at) >= $1 AND coalesce(started_at, created_at) < $2
  AND id <> $3
ORDER BY coalesce(started_at, created_at), id LIMIT $4
"""


def report_week(run: RunContext) -> str:
    """The week to report: ``config.week``, else the last complete week before the tick/clock.

    Raises:
        CancelRunError: ``config.week`` is not ``YYYY-Www`` or has not started yet.
    """
    reference = _reference_time(run)
    wanted = run.request.config.get("week")
    if wanted is None:
        return week_of(week_start(reference) - WEEK)
    try:
        start = parse_week(str(wanted))
    except ValueError as exc:
        raise CancelRunError(f"invalid config week: {exc}") from None
    if start > reference:
        raise CancelRunError(f"invalid config week: {wanted} has not started yet")
    return str(wanted)


def _reference_time(run: RunContext) -> datetime:
    tick = run.request.tick
    if tick is not None:
        try:
            return datetime.fromisoformat(tick)
        except ValueError:
            log.warning("learning_report_tick_unreadable", tick=tick)
    return run.clock()


def _num(value: Any) -> float | None:
    if value is None:
        return None
    return round(float(value), _DIGITS)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, _DIGITS) if whole else None


async def weekly_metrics(
    pool: asyncpg.Pool, since: datetime, *, exclude_run: uuid.UUID = _NO_RUN
) -> WeeklyMetrics:
    """The numbers of the week starting at ``since`` (run ``exclude_run`` not counted)."""
    until = since + WEEK
    q = await pool.fetchrow(_QUERY_SQL, since, until)
    assert q is not None
    scores = {int(r["score"]): int(r["n"]) for r in await pool.fetch(_FEEDBACK_SQL, since, until)}
    jobs = await pool.fetchrow(_JOBS_SQL, since, until, exclude_run)
    assert jobs is not None
    queries, feedback = int(q["queries"]), sum(scores.values())
    examples, approved = int(q["examples"]), int(q["approved"])
    return WeeklyMetrics(
        queries=queries,
        cache_hit_rate=_ratio(int(q["cached"]), queries),
        mean_latency_ms=_num(q["mean_latency"]),
        p95_latency_ms=_num(q["p95_latency"]),
        mean_confidence=_num(q["mean_confidence"]),
        high_confidence_responses=int(q["high"]),
        fallbacks=int(q["fallbacks"]),
        fallback_rate=_ratio(int(q["fallbacks"]), queries),
        feedback_rate=_ratio(int(q["with_feedback"]), queries),
        feedback_count=feedback,
        mean_score=_ratio(sum(s * n for s, n in scores.items()), feedback),
        positive_rate=_ratio(sum(n for s, n in scores.items() if s >= 4), feedback),
        quality_scores={str(s): scores.get(s, 0) for s in range(1, 6)},
        learning_examples=examples,
        approved_examples=approved,
        pending_examples=examples - approved,
        job_runs=int(jobs["runs"]),
        failed_job_runs=int(jobs["failed"]),
        failed_job_rate=_ratio(int(jobs["failed"]), int(jobs["finished"])),
    )


def _change(current: float | None, previous: float | None) -> MetricChange:
    if current is None or previous is None:
        return MetricChange(current=current, previous=previous, absolute=None, relative=None)
    absolute = round(current - previous, _DIGITS)
    relative = round((current - previous) / previous, _DIGITS) if previous else None
    return MetricChange(current=current, previous=previous, absolute=absolute, relative=relative)


def compare(current: WeeklyMetrics, previous: WeeklyMetrics) -> dict[str, MetricChange]:
    """Week-over-week change of every numeric metric (see :class:`MetricChange`)."""
    now, before = msgspec.to_builtins(current), msgspec.to_builtins(previous)
    return {
        name: _change(value, before[name])
        for name, value in now.items()
        if value is None or isinstance(value, int | float)
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _reported(row: asyncpg.Record) -> ReportedRun:
    started, finished = row["started_at"], row["finished_at"]
    results = row["results"]
    duration = (finished - started).total_seconds() * 1000 if started and finished else None
    return ReportedRun(
        run_id=str(row["id"]), job=row["job"], queue=row["queue"], trigger=row["trigger"],
        status=row["status"], attempt=int(row["attempt"]), started_at=_iso(started),
        finished_at=_iso(finished),
        duration_ms=round(duration, 2) if duration is not None else None,
        error_message=row["error_message"],
        results=json.loads(results) if isinstance(results, str) else results,
    )  # fmt: skip


async def _week_runs(
    pool: asyncpg.Pool, since: datetime, exclude_run: uuid.UUID
) -> tuple[dict[str, RunCounts], list[ReportedRun], int]:
    args = (since, since + WEEK, exclude_run)
    jobs = {
        r["job"]: RunCounts(
            runs=int(r["runs"]), completed=int(r["completed"]), failed=int(r["failed"]),
            cancelled=int(r["cancelled"]),
            other=int(r["runs"]) - int(r["completed"]) - int(r["failed"]) - int(r["cancelled"]),
        )
        for r in await pool.fetch(_JOB_COUNTS_SQL, *args)
    }  # fmt: skip
    rows = await pool.fetch(_RUNS_SQL, *args, MAX_RUNS)
    total = sum(c.runs for c in jobs.values())
    return jobs, [_reported(r) for r in rows], total - len(rows)


async def build_report(
    pool: asyncpg.Pool, week: str, *, now: datetime, run_id: str | None = None
) -> LearningReport:
    """Compute the report of ``week`` (``YYYY-Www``) as of ``now``."""
    start = parse_week(week)
    exclude = uuid.UUID(run_id) if run_id else _NO_RUN
    current = await weekly_metrics(pool, start, exclude_run=exclude)
    previous = await weekly_metrics(pool, start - WEEK, exclude_run=exclude)
    jobs, runs, omitted = await _week_runs(pool, start, exclude)
    return LearningReport(
        week=week, week_start=start.isoformat(), week_end=(start + WEEK).isoformat(),
        complete=start + WEEK <= now, generated_at=now.isoformat(), run_id=run_id,
        previous_week=week_of(start - WEEK), metrics=current, previous=previous,
        changes=compare(current, previous), jobs=jobs, runs=runs, runs_omitted=omitted,
    )  # fmt: skip


async def store_report(pool: asyncpg.Pool, report: LearningReport) -> None:
    """Insert the week's report, or replace the one stored for that week."""
    await pool.execute(
        """
        INSERT INTO learning_reports (week, week_start, week_end, run_id, generated_at, report)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (week) DO UPDATE
            SET week_start = EXCLUDED.week_start, week_end = EXCLUDED.week_end,
                run_id = EXCLUDED.run_id, generated_at = EXCLUDED.generated_at,
                report = EXCLUDED.report
        """,
        report.week, datetime.fromisoformat(report.week_start),
        datetime.fromisoformat(report.week_end),
        uuid.UUID(report.run_id) if report.run_id else None,
        datetime.fromisoformat(report.generated_at), msgspec.json.encode(report).decode(),
    )  # fmt: skip


async def load_report(pool: asyncpg.Pool, week: str | None = None) -> LearningReport | None:
    """The stored report of ``week``, or the latest week's when ``week`` is None."""
    if week is None:
        raw = await pool.fetchval(
            "SELECT report FROM learning_reports ORDER BY week_start DESC LIMIT 1"
        )
    else:
        raw = await pool.fetchval("SELECT report FROM learning_reports WHERE week = $1", week)
    if raw is None:
        return None
    return msgspec.json.decode(raw, type=LearningReport)


async def answer_report_query(
    pool: asyncpg.Pool, query: LearningReportQuery
) -> LearningReportReply:
    """The reply to one ``trainer.query.report`` request."""
    if query.week is not None:
        try:
            parse_week(query.week)
        except ValueError as exc:
            return LearningReportReply(error="invalid_request", message=str(exc))
    report = await load_report(pool, query.week)
    if report is None:
        which = f"week {query.week}" if query.week else "any week"
        return LearningReportReply(error="not_found", message=f"no learning report for {which}")
    return LearningReportReply(report=report)


async def run_learning_report(run: RunContext) -> dict[str, Any]:
    """The ``learning_report`` job."""
    week = report_week(run)
    await run.progress(10.0, f"week {week}")
    report = await build_report(run.pool, week, now=run.clock(), run_id=run.run_id)
    await run.progress(80.0, "computed")
    await store_report(run.pool, report)
    m = report.metrics
    log.info("learning_report_generated", week=week, queries=m.queries,
             feedback_count=m.feedback_count, job_runs=m.job_runs)  # fmt: skip
    return {
        "week": week, "week_start": report.week_start, "week_end": report.week_end,
        "complete": report.complete, "queries": m.queries, "feedback_count": m.feedback_count,
        "job_runs": m.job_runs,
    }  # fmt: skip
