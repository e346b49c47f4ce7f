"""Reads other processes ask of the trainer over NATS request/reply.

``trainer.query.stats`` :class:`JobStatsQuery` → :class:`JobStatsReply`:
runs by status, per-queue average duration and success rate of finished runs,
the 10 most recent failures, and the training-queue runs pending or running.
``trainer.query.report`` :class:`LearningReportQuery` → :class:`LearningReportReply`
(the stored weekly learning report, :mod:`neuralbridge.trainer.report`).
``trainer.query.failed`` :class:`FailedRunsQuery` → :class:`FailedRunsReply` and
``trainer.command.retry`` :class:`RetryRun` → :class:`RetryReply` (failed runs and
retrying one by hand, :mod:`neuralbridge.trainer.retries`).
``trainer.query.learning_examples`` and ``trainer.command.review_example``: agents'
learning examples (:mod:`neuralbridge.trainer.agent_learning`).

All are served by the shared responder (queue group ``trainer``): a request
that does not decode, or a failure, is answered with an ``ErrorReply``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import msgspec
import structlog

from neuralbridge.core.bus import Bus, BusSubscription
from neuralbridge.core.responder import serve
from neuralbridge.core.subjects import TRAINER_COMMAND_SUBJECT, TRAINER_QUERY_SUBJECT
from neuralbridge.messages.learning import LearningReportQuery, LearningReportReply
from neuralbridge.messages.trainer_queries import JobStatsQuery
from neuralbridge.messages.training import (
    RUN_STATUSES,
    FailedRun,
    FailedRunsQuery,
    FailedRunsReply,
    JobRunState,
    JobStatsReply,
    QueuePerformance,
    RetryReply,
    RetryRun,
)
from neuralbridge.trainer.agent_learning import serve_learning_examples
from neuralbridge.trainer.health import job_health
from neuralbridge.trainer.recovery import TRAINING_QUEUE
from neuralbridge.trainer.report import answer_report_query
from neuralbridge.trainer.retries import failed_runs, retry_run
from neuralbridge.trainer.state import RunBoard

__all__ = ["job_stats", "serve_queries"]

log = structlog.get_logger()


async def serve_queries(bus: Bus, pool: asyncpg.Pool) -> list[BusSubscription]:
    """Answer queries and commands (a queue group: one replica answers each)."""

    async def on_stats(_: JobStatsQuery) -> JobStatsReply:
        stats = await job_stats(pool)
        health = await job_health(bus, pool, datetime.now(UTC))
        return msgspec.structs.replace(stats, health=health)

    async def on_report(query: LearningReportQuery) -> LearningReportReply:
        return await answer_report_query(pool, query)

    board = await RunBoard.open(bus)

    async def on_failed(query: FailedRunsQuery) -> FailedRunsReply:
        return FailedRunsReply(runs=await failed_runs(pool, query.limit))

    async def on_retry(command: RetryRun) -> RetryReply:
        return await retry_run(pool, bus, board, command.run_id)

    query, command, queue = TRAINER_QUERY_SUBJECT, TRAINER_COMMAND_SUBJECT, "trainer"
    return [
        await serve(bus, f"{query}.failed", FailedRunsQuery, on_failed, queue=queue),
        await serve(bus, f"{command}.retry", RetryRun, on_retry, queue=queue),
        await serve(bus, f"{query}.stats", JobStatsQuery, on_stats, queue=queue),
        await serve(bus, f"{query}.report", LearningReportQuery, on_report, queue=queue),
        *await serve_learning_examples(bus, pool),  # nb learning examples list|approve|reject
    ]


async def job_stats(pool: asyncpg.Pool, *, failures: int = 10) -> JobStatsReply:
    """Job statistics over the ``job_runs`` table."""
    by_status: dict[str, int] = dict.fromkeys(RUN_STATUSES, 0)
    for row in await pool.fetch("SELECT status, count(*) AS n FROM job_runs GROUP BY status"):
        by_status[row["status"]] = int(row["n"])
    performance = {
        row["queue"]: QueuePerformance(
            finished=int(row["n"]),
            avg_duration_ms=round(float(row["avg_ms"] or 0.0), 2),
            success_rate=round(int(row["ok"]) / int(row["n"]), 4),
        )
        for row in await pool.fetch(
            """
            SELECT queue, count(*) AS n, count(*) FILTER (WHERE status = 'completed') AS ok,
                   avg(EXTRACT(EPOCH FROM finished_at - started_at) * 1000) AS avg_ms
            FROM job_runs WHERE status IN ('completed', 'failed') GROUP BY queue
            """
        )
    }
    failed = [
        FailedRun(run_id=str(r["id"]), job=r["job"], queue=r["queue"],
                  error_message=r["error_message"],
                  finished_at=r["finished_at"].isoformat() if r["finished_at"] else None)
        for r in await pool.fetch(
            "SELECT id, job, queue, error_message, finished_at FROM job_runs"
            " WHERE status = 'failed' ORDER BY finished_at DESC NULLS LAST LIMIT $1", failures
        )
    ]  # fmt: skip
    active = [
        JobRunState(run_id=str(r["id"]), job=r["job"], queue=r["queue"], trigger=r["trigger"],
                    tick=r["tick"], status=r["status"],
                    progress_percentage=float(r["progress_percentage"]), step=r["step"],
                    attempt=int(r["attempt"]), error_message=r["error_message"],
                    updated_at=r["started_at"].isoformat() if r["started_at"] else "")
        for r in await pool.fetch(
            "SELECT * FROM job_runs WHERE queue = $1 AND status IN ('pending', 'running')"
            " ORDER BY created_at", TRAINING_QUEUE
        )
    ]  # fmt: skip
    return JobStatsReply(
        jobs_by_status=by_status, queue_performance=performance,
        recent_failures=failed, active_training_jobs=active,
    )  # fmt: skip
