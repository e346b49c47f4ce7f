"""Reads other processes ask of the trainer over NATS request/reply.

``trainer.query.stats`` → :class:`JobStatsReply` (seed 000's ``get_job_stats``):
runs by status, per-queue average duration and success rate of finished runs,
the 10 most recent failures, and the training-queue runs pending or running.
"""

from __future__ import annotations

import asyncpg
import structlog
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import encode
from neuralbridge.core.subjects import TRAINER_QUERY_SUBJECT
from neuralbridge.messages.training import (
    RUN_STATUSES,
    FailedRun,
    JobRunState,
    JobStatsReply,
    QueuePerformance,
)
from neuralbridge.trainer.recovery import TRAINING_QUEUE

__all__ = ["job_stats", "serve_queries"]

log = structlog.get_logger()


async def serve_queries(bus: Bus, pool: asyncpg.Pool) -> list[Subscription]:
    """Answer stats requests (a queue group: one replica answers each)."""

    async def on_stats(msg: Msg) -> None:
        await msg.respond(encode(await job_stats(pool)))

    return [await bus.nc.subscribe(f"{TRAINER_QUERY_SUBJECT}.stats", queue="trainer", cb=on_stats)]


async def job_stats(pool: asyncpg.Pool, *, failures: int = 10) -> JobStatsReply:
    """Seed 000's ``get_job_stats`` over the ``job_runs`` table."""
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
