"""The trainer's PostgreSQL tables: job runs, ingested query logs and feedback.

All SQL of the service lives here. Progress is monotonic twice over: the
``UPDATE`` takes ``GREATEST`` and a trigger in the schema does the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from neuralbridge.core.db import claim_once
from neuralbridge.messages.jobs import JobRequest
from neuralbridge.messages.proxy import QueryLogged
from neuralbridge.messages.training import FeedbackGiven

__all__ = [
    "SCHEMA",
    "RawStats",
    "finish_run",
    "insert_feedback",
    "insert_query_logs",
    "is_finished",
    "raw_stats",
    "record_retry",
    "set_progress",
    "start_run",
]

SCHEMA = "trainer"


def _claim_key(run_id: str) -> str:
    return f"run:{run_id}"


async def is_finished(pool: asyncpg.Pool, run_id: str) -> bool:
    """Whether the run already reached a final status (its claim is recorded)."""
    found = await pool.fetchval(
        f'SELECT 1 FROM "{SCHEMA}".processed_jobs WHERE key = $1', _claim_key(run_id)
    )
    return found is not None


async def start_run(pool: asyncpg.Pool, run_id: str, request: JobRequest, attempt: int) -> None:
    """Create the run (or take up a retried one) as ``running``, attempt ``attempt``."""
    await pool.execute(
        """
        INSERT INTO job_runs (id, job, queue, trigger, tick, status, config, attempt, started_at,
                              timeout_seconds)
        VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, now(), $8)
        ON CONFLICT (id) DO UPDATE
            SET status = 'running', attempt = EXCLUDED.attempt, started_at = now(),
                error_message = NULL
        """,
        run_id, request.job, request.queue, request.trigger, request.tick,
        json.dumps(request.config), attempt, request.timeout_seconds,
    )  # fmt: skip


async def set_progress(pool: asyncpg.Pool, run_id: str, percentage: float, step: str) -> float:
    """Raise the run's progress to ``percentage`` (never lower it); return the stored value."""
    value = await pool.fetchval(
        "UPDATE job_runs SET progress_percentage = GREATEST(progress_percentage, $2), step = $3"
        " WHERE id = $1 RETURNING progress_percentage",
        run_id, min(max(percentage, 0.0), 100.0), step,
    )  # fmt: skip
    return float(value or 0.0)


async def record_retry(pool: asyncpg.Pool, run_id: str, error: str) -> None:
    """The attempt failed and the run will be retried: back to ``pending``."""
    await pool.execute(
        "UPDATE job_runs SET status = 'pending', error_message = $2 WHERE id = $1", run_id, error
    )


async def finish_run(
    pool: asyncpg.Pool,
    run_id: str,
    status: str,
    *,
    results: dict[str, Any] | None = None,
    error: str | None = None,
) -> bool:
    """Record the final status and claim the run; ``False`` if it was already final."""
    async with pool.acquire() as conn, conn.transaction():
        if not await claim_once(conn, SCHEMA, _claim_key(run_id)):
            return False
        await conn.execute(
            """
            UPDATE job_runs SET status = $2, results = $3, error_message = $4, finished_at = now(),
                progress_percentage = CASE WHEN $2 = 'completed' THEN 100
                                           ELSE progress_percentage END
            WHERE id = $1
            """,
            run_id, status, None if results is None else json.dumps(results), error,
        )  # fmt: skip
    return True


async def insert_query_logs(pool: asyncpg.Pool, events: Sequence[QueryLogged]) -> set[str]:
    """Store query logs in one statement; return the request ids that were new.

    An event's A/B experiment and variant and the passages its answer was given
    are stored with it. An event without ``logged_at`` is dated on arrival.
    """
    if not events:
        return set()
    now = datetime.now(UTC).timestamp()
    columns: list[list[Any]] = [[] for _ in range(15)]
    for e in events:
        sources = [
            {"collection": s.collection, "point_id": s.point_id, "document": s.document,
             "chunk_index": s.chunk_index, "score": s.score}
            for s in e.sources
        ]  # fmt: skip
        row = (
            e.request_id, e.session_id, e.query, e.answer, e.provider, e.model, e.confidence,
            e.fallback_used, e.fallback_reason, e.cached, e.latency_ms,
            datetime.fromtimestamp(e.logged_at or now, UTC), e.experiment,
            e.variant if e.experiment is not None else None, json.dumps(sources),
        )  # fmt: skip
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    rows = await pool.fetch(
        """
        INSERT INTO query_logs (request_id, session_id, query, answer, provider, model,
            confidence, fallback_used, fallback_reason, cached, latency_ms, logged_at,
            experiment_id, variant, sources)
        SELECT r, s, q, a, p, m, c, f, fr, ca, l, t, x, v, src::jsonb
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                    $7::float8[], $8::bool[], $9::text[], $10::bool[], $11::float8[],
                    $12::timestamptz[], $13::text[], $14::text[], $15::text[])
             AS e(r, s, q, a, p, m, c, f, fr, ca, l, t, x, v, src)
        ON CONFLICT (request_id) DO NOTHING
        RETURNING request_id
        """,
        *columns,
    )
    return {row["request_id"] for row in rows}


async def insert_feedback(pool: asyncpg.Pool, event: FeedbackGiven) -> bool:
    """Store feedback; a later one for the same request replaces an earlier one."""
    status = await pool.execute(
        """
        INSERT INTO feedback (request_id, score, comment, given_at) VALUES ($1, $2, $3, $4)
        ON CONFLICT (request_id) DO UPDATE
            SET score = EXCLUDED.score, comment = EXCLUDED.comment, given_at = EXCLUDED.given_at,
                received_at = now()
            WHERE feedback.given_at < EXCLUDED.given_at
        """,
        event.request_id, event.score, event.comment, event.given_at,
    )  # fmt: skip
    return bool(status.endswith(" 1"))


@dataclass(frozen=True, slots=True)
class RawStats:
    """Counts over the query logs of a window (see ``analysis.TrainingStats``)."""

    total_queries: int
    avg_confidence: float
    api_b_fallbacks: int
    high_confidence_responses: int
    user_feedback_available: int
    positive_feedback: int


async def raw_stats(pool: asyncpg.Pool, since: datetime, until: datetime) -> RawStats:
    """Counts over query logs with ``since <= logged_at < until`` and their feedback.

    The average is taken in ``numeric`` so that, e.g., confidences of 0.6 average
    to exactly 0.6 and the rule boundaries are not blurred by float sums.
    """
    row = await pool.fetchrow(
        """
        SELECT count(*) AS total,
               coalesce(avg(q.confidence::numeric), 0) AS avg_confidence,
               count(*) FILTER (WHERE q.fallback_used) AS fallbacks,
               count(*) FILTER (WHERE q.confidence >= 0.8) AS high,
               count(f.request_id) AS with_feedback,
               count(*) FILTER (WHERE f.score >= 4) AS positive
        FROM query_logs q LEFT JOIN feedback f ON f.request_id = q.request_id
        WHERE q.logged_at >= $1 AND q.logged_at < $2
        """,
        since, until,
    )  # fmt: skip
    assert row is not None
    avg = row["avg_confidence"]
    return RawStats(
        total_queries=int(row["total"]),
        avg_confidence=float(avg) if isinstance(avg, Decimal) else float(avg or 0),
        api_b_fallbacks=int(row["fallbacks"]),
        high_confidence_responses=int(row["high"]),
        user_feedback_available=int(row["with_feedback"]),
        positive_feedback=int(row["positive"]),
    )
