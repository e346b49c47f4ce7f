"""Failed runs and retrying them by hand (seed 001's failed job registry and ``job.retry()``).

A failed or cancelled run is retried as a new ``manual`` run of the same job,
on the same queue, with the same config and time limit. The new run's id is
derived from the old one (message id ``retry:<run id>``), and each run is
retried at most once: its retry is recorded ``pending`` in ``job_runs`` and KV
``trainer_runs`` (so it can be watched at once) before the request is
published. A second retry of the same run is refused naming the first retry;
when that one failed too, retry it instead. Runs still pending or running, and
completed ones, are refused (``nb jobs run <job>`` runs a job again).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import structlog
from nats.errors import Error as NatsError

from neuralbridge.core.bus import Bus
from neuralbridge.messages.jobs import JobRequest, job_subject
from neuralbridge.messages.training import FailedRun, JobRunState, RetryReply, RunStatus
from neuralbridge.trainer import store
from neuralbridge.trainer.runs import run_id_for
from neuralbridge.trainer.state import RunBoard, now_iso

__all__ = ["RETRYABLE_STATUSES", "RETRY_DEFAULT_TIMEOUT", "failed_runs", "retry_run"]

log = structlog.get_logger()

RETRYABLE_STATUSES = frozenset({"failed", "cancelled"})
#: The time limit of a retry of a run recorded before its own limit was stored (1 h).
RETRY_DEFAULT_TIMEOUT = 3600.0


async def failed_runs(pool: asyncpg.Pool, limit: int) -> list[FailedRun]:
    """The ``limit`` most recently failed runs, each with its retry if it has one."""
    rows = await pool.fetch(
        """
        SELECT f.id, f.job, f.queue, f.error_message, f.finished_at, f.attempt,
               r.id AS retried_as
        FROM job_runs f LEFT JOIN job_runs r ON r.retry_of = f.id
        WHERE f.status = 'failed' ORDER BY f.finished_at DESC NULLS LAST, f.created_at DESC
        LIMIT $1
        """,
        limit,
    )
    return [_failed_run(r) for r in rows]


def _failed_run(r: asyncpg.Record) -> FailedRun:
    return FailedRun(
        run_id=str(r["id"]), job=r["job"], queue=r["queue"], error_message=r["error_message"],
        finished_at=r["finished_at"].isoformat() if r["finished_at"] else None,
        attempt=int(r["attempt"]), retried_as=str(r["retried_as"]) if r["retried_as"] else None,
    )  # fmt: skip


def _parse_id(run_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(run_id)
    except ValueError:
        return None


async def retry_run(pool: asyncpg.Pool, bus: Bus, board: RunBoard, run_id: str) -> RetryReply:
    """Enqueue a new run of the failed or cancelled run ``run_id`` (see the module docstring)."""
    key = _parse_id(run_id)
    row = None if key is None else await pool.fetchrow("SELECT * FROM job_runs WHERE id = $1", key)
    if row is None:
        return RetryReply(run_id=run_id, code="unknown_run", error=f"no job run {run_id!r}")
    run_id = str(key)  # one spelling per run: the retry's message id derives from it
    if row["status"] not in RETRYABLE_STATUSES:
        hint = "run the job again with `nb jobs run`" if row["status"] == "completed" else (
            "wait for it to finish, or cancel it first")  # fmt: skip
        return RetryReply(
            run_id=run_id, job=row["job"], queue=row["queue"], code="not_retryable",
            error=f"run {run_id} of {row['job']} is {row['status']}; only failed or cancelled "
            f"runs can be retried ({hint})",
        )  # fmt: skip
    request = JobRequest(
        job=row["job"], queue=row["queue"], trigger="manual", requested_at=now_iso(),
        timeout_seconds=float(row["timeout_seconds"] or RETRY_DEFAULT_TIMEOUT),
        config=_config(row["config"]),
    )  # fmt: skip
    msg_id = f"retry:{run_id}"
    new_run_id = run_id_for(request, msg_id, msg_id)
    if not await _record_pending(pool, new_run_id, request, key):
        return await _already_retried(pool, run_id, request)
    await board.run(_pending_state(new_run_id, request))
    try:
        await bus.publish(job_subject(request.queue, request.job), request, msg_id=msg_id)
    except (NatsError, TimeoutError) as exc:
        error = f"could not enqueue the retry of run {run_id}: {type(exc).__name__}"
        await store.finish_run(pool, new_run_id, "failed", error=error)
        await board.run(_pending_state(new_run_id, request, status="failed", error=error))
        return RetryReply(run_id=run_id, new_run_id=new_run_id, job=request.job,
                          queue=request.queue, code="enqueue_failed", error=error)  # fmt: skip
    log.info("job_run_retried", run_id=run_id, new_run_id=new_run_id, job=request.job)
    return RetryReply(run_id=run_id, new_run_id=new_run_id, job=request.job, queue=request.queue)


def _config(raw: Any) -> dict[str, str | int | float | bool]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return dict(value or {})


async def _record_pending(
    pool: asyncpg.Pool, new_run_id: str, request: JobRequest, retry_of: uuid.UUID | None
) -> bool:
    """Insert the retry as ``pending``; ``False`` when the run was already retried."""
    status = await pool.execute(
        """
        INSERT INTO job_runs (id, job, queue, trigger, status, config, timeout_seconds, retry_of)
        VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7)
        ON CONFLICT DO NOTHING
        """,
        uuid.UUID(new_run_id), request.job, request.queue, request.trigger,
        json.dumps(request.config), request.timeout_seconds, retry_of,
    )  # fmt: skip
    return bool(status.endswith(" 1"))


async def _already_retried(pool: asyncpg.Pool, run_id: str, request: JobRequest) -> RetryReply:
    retry = await pool.fetchrow(
        "SELECT id, status FROM job_runs WHERE retry_of = $1", uuid.UUID(run_id)
    )
    new_id = str(retry["id"]) if retry else None
    status = retry["status"] if retry else "unknown"
    return RetryReply(
        run_id=run_id, new_run_id=new_id, job=request.job, queue=request.queue,
        code="already_retried",
        error=f"run {run_id} was already retried as run {new_id} ({status}); "
        "retry that run instead if it failed too",
    )  # fmt: skip


def _pending_state(
    run_id: str, request: JobRequest, *, status: RunStatus = "pending", error: str | None = None
) -> JobRunState:
    return JobRunState(
        run_id=run_id, job=request.job, queue=request.queue, trigger=request.trigger,
        status=status, error_message=error, updated_at=now_iso(),
    )  # fmt: skip
