"""Publishing events and jobs as the other services do, and reading run outcomes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from neuralbridge.core.bus import Bus
from neuralbridge.core.subjects import feedback_subject, query_log_subject
from neuralbridge.messages.jobs import JobRequest, job_subject
from neuralbridge.messages.proxy import QueryLogged
from neuralbridge.messages.training import FeedbackGiven
from neuralbridge.trainer.runs import run_id_for
from tests.support.waiting import eventually

NOW = datetime(2026, 11, 24, 2, 0, 5, tzinfo=UTC)
TICK = "2026-11-24T02:00:00+00:00"


class FakeClock:
    """A clock the test sets by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def request_id() -> str:
    """A fresh request id in the proxy's format."""
    return str(uuid.uuid4())


async def log_query(
    bus: Bus, *, confidence: float, fallback: bool = False, at: datetime | None = None,
    rid: str | None = None,
) -> str:  # fmt: skip
    """Publish a QueryLogged event (a minute before ``NOW`` unless ``at``); return its id."""
    rid = rid or request_id()
    at = at or NOW - timedelta(minutes=1)
    event = QueryLogged(
        request_id=rid, session_id="s1", query="q", answer="a", provider="openai",
        model="m", confidence=confidence, fallback_used=fallback, cached=False,
        latency_ms=12.0, logged_at=at.timestamp(),
    )  # fmt: skip
    await bus.publish(query_log_subject(rid), event)
    return rid


async def give_feedback(bus: Bus, rid: str, score: int) -> None:
    """Publish FeedbackGiven as the gateway will."""
    event = FeedbackGiven(request_id=rid, score=score, given_at=NOW)
    await bus.publish(feedback_subject(rid), event)


async def wait_ingested(db: asyncpg.Pool, queries: int, feedback: int = 0) -> None:
    """Wait until the trainer stored that many query logs and feedbacks."""

    async def done() -> bool:
        q = await db.fetchval("SELECT count(*) FROM query_logs")
        f = await db.fetchval("SELECT count(*) FROM feedback")
        return bool(q == queries and f == feedback)

    await eventually(done, timeout=20)


def job_request(
    job: str, *, queue: str = "default", tick: str | None = TICK, timeout: float = 60.0,
    config: dict[str, str | int | float | bool] | None = None,
) -> JobRequest:  # fmt: skip
    """A JobRequest as the scheduler publishes it (tick set) or ``nb jobs run`` (tick None)."""
    return JobRequest(
        job=job, queue=queue, trigger="schedule" if tick else "manual", tick=tick,
        requested_at=NOW.isoformat(), timeout_seconds=timeout, config=config or {},
    )  # fmt: skip


async def enqueue(bus: Bus, request: JobRequest, msg_id: str | None = None) -> str:
    """Publish the request; return its run id (as the trainer derives it)."""
    msg_id = msg_id or f"{request.job}@{request.tick or uuid.uuid4().hex}"
    ack = await bus.publish(job_subject(request.queue, request.job), request, msg_id=msg_id)
    return run_id_for(request, msg_id, f"{ack.stream}:{ack.seq}")


async def wait_run(
    db: asyncpg.Pool, run_id: str, statuses: tuple[str, ...] = ("completed", "failed", "cancelled"),
    timeout: float = 20.0,
) -> dict[str, Any]:  # fmt: skip
    """Wait until the run reaches one of ``statuses``; return its row."""
    row: dict[str, Any] = {}

    async def reached() -> bool:
        found = await db.fetchrow("SELECT * FROM job_runs WHERE id = $1", uuid.UUID(run_id))
        if found is None or found["status"] not in statuses:
            return False
        row.update(dict(found))
        return True

    await eventually(reached, timeout=timeout)
    if isinstance(row.get("results"), str):
        row["results"] = msgspec.json.decode(row["results"])
    return row


def minutes_ago(minutes: float) -> datetime:
    """``NOW`` minus some minutes."""
    return NOW - timedelta(minutes=minutes)
