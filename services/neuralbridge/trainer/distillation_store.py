"""The SQL of distillation: API B's answers (the teacher) and the ``distillation_runs`` registry.

A **teacher answer** is a query log of the window that API B produced — the
fallback path answered it (``fallback_used``), it is not a cached copy, and it
did not come from the answer memory itself — with ``confidence`` at least the
run's threshold and no negative feedback (no score <= 2). The window's **API-B
calls** are the same rows without the confidence and feedback conditions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from neuralbridge.learning.memory import MEMORY_PROVIDER

__all__ = [
    "NEGATIVE_SCORE",
    "ActiveMemory",
    "NewRun",
    "TeacherRow",
    "WindowCounts",
    "active_memory",
    "count_window",
    "record_run",
    "recorded_results",
    "select_teacher",
]

#: Feedback at or below this score disqualifies a teacher answer.
NEGATIVE_SCORE = 2

# $1 since, $2 until, $3 the memory's provider, $4 teacher provider or NULL; the teacher
# conditions add $5 the confidence threshold and $6 NEGATIVE_SCORE.
_SELECT_TEACHER = """
    SELECT q.request_id, q.query, q.answer, q.sources, q.confidence FROM query_logs q
    WHERE q.fallback_used AND NOT q.cached AND q.provider <> $3
      AND q.logged_at >= $1 AND q.logged_at <= $2 AND ($4::text IS NULL OR q.provider = $4)
      AND q.confidence >= $5
      AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.request_id = q.request_id
                      AND f.score <= $6)
    ORDER BY q.logged_at DESC, q.request_id
    LIMIT $7
"""
_COUNT_WINDOW = """
    SELECT count(*) AS api_b_calls,
           count(*) FILTER (
               WHERE q.confidence >= $5
                 AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.request_id = q.request_id
                                 AND f.score <= $6)) AS eligible
    FROM query_logs q
    WHERE q.fallback_used AND NOT q.cached AND q.provider <> $3
      AND q.logged_at >= $1 AND q.logged_at <= $2 AND ($4::text IS NULL OR q.provider = $4)
"""


@dataclass(frozen=True, slots=True)
class TeacherRow:
    """One teacher answer, as logged (the proxy redacted it already)."""

    request_id: str
    query: str
    answer: str
    sources: list[dict[str, Any]]
    confidence: float


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """The window's API-B calls, and how many of them qualify as teacher answers."""

    api_b_calls: int
    eligible: int


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def select_teacher(
    pool: asyncpg.Pool, since: datetime, until: datetime, *, threshold: float, limit: int,
    provider: str | None,
) -> list[TeacherRow]:  # fmt: skip
    """Up to ``limit`` teacher answers of the window, newest first."""
    rows = await pool.fetch(
        _SELECT_TEACHER, since, until, MEMORY_PROVIDER, provider, threshold, NEGATIVE_SCORE, limit,
    )  # fmt: skip
    return [
        TeacherRow(
            request_id=r["request_id"],
            query=r["query"],
            answer=r["answer"],
            sources=list(_json(r["sources"]) or []),
            confidence=float(r["confidence"]),
        )
        for r in rows
    ]


async def count_window(
    pool: asyncpg.Pool, since: datetime, until: datetime, *, threshold: float,
    provider: str | None,
) -> WindowCounts:  # fmt: skip
    """How many API-B calls the window had, and how many were teacher answers."""
    row = await pool.fetchrow(
        _COUNT_WINDOW, since, until, MEMORY_PROVIDER, provider, threshold, NEGATIVE_SCORE
    )
    assert row is not None  # an aggregate always returns one row
    return WindowCounts(api_b_calls=int(row["api_b_calls"]), eligible=int(row["eligible"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRun:
    """A judged memory, to be recorded (``object_name``/``sha256`` only when activated)."""

    run_id: str
    activate: bool
    reason: str
    similarity: str
    similarity_threshold: float
    agreement_threshold: float
    min_agreement: float
    counts: WindowCounts
    teacher_samples: int
    train_samples: int
    heldout_request_ids: list[str]
    answered: int
    agreed: int
    coverage: float
    agreement_rate: float
    projected_fallback_reduction: float
    config: dict[str, Any]
    embedder: str | None = None
    object_name: str | None = None
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class ActiveMemory:
    """The active memory's row (what the KV pointer mirrors)."""

    version: int
    run_id: str
    object_name: str
    sha256: str
    similarity: str
    embedder: str | None
    entries: int
    activated_at: datetime


async def record_run(pool: asyncpg.Pool, new: NewRun) -> int:
    """Insert the run's row (superseding the active memory when it activates); its version."""
    status = "active" if new.activate else "rejected"
    async with pool.acquire() as conn, conn.transaction():
        if new.activate:
            await conn.execute(
                "UPDATE distillation_runs SET status = 'superseded', deactivated_at = now()"
                " WHERE status = 'active'"
            )
        version: int = await conn.fetchval(
            """
            INSERT INTO distillation_runs (
                run_id, status, reason, similarity, similarity_threshold, agreement_threshold,
                min_agreement, window_api_b_calls, eligible_samples, teacher_samples,
                train_samples, heldout_samples, answered, agreed, coverage, agreement_rate,
                projected_fallback_reduction, heldout_request_ids, config, object_name, sha256,
                embedder, activated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                    $18, $19::jsonb, $20, $21, $22, CASE WHEN $2 = 'active' THEN now() END)
            RETURNING version
            """,
            new.run_id, status, new.reason, new.similarity, new.similarity_threshold,
            new.agreement_threshold, new.min_agreement, new.counts.api_b_calls,
            new.counts.eligible, new.teacher_samples, new.train_samples,
            len(new.heldout_request_ids), new.answered, new.agreed, new.coverage,
            new.agreement_rate, new.projected_fallback_reduction, new.heldout_request_ids,
            json.dumps(new.config), new.object_name, new.sha256, new.embedder,
        )  # fmt: skip
    return version


async def recorded_results(pool: asyncpg.Pool, run_id: str) -> dict[str, Any] | None:
    """What an earlier attempt of this run recorded (``None``: nothing yet)."""
    row = await pool.fetchrow(
        "SELECT version, status, reason, coverage, agreement_rate, projected_fallback_reduction"
        " FROM distillation_runs WHERE run_id = $1",
        run_id,
    )
    if row is None:
        return None
    return {
        "decision": "activated" if row["status"] in ("active", "superseded") else "rejected",
        "reason": row["reason"], "version": row["version"], "coverage": row["coverage"],
        "agreement_rate": row["agreement_rate"],
        "projected_fallback_reduction": row["projected_fallback_reduction"],
    }  # fmt: skip


async def active_memory(pool: asyncpg.Pool) -> ActiveMemory | None:
    """The active memory, or ``None``."""
    row = await pool.fetchrow(
        "SELECT version, run_id, object_name, sha256, similarity, embedder, train_samples,"
        " activated_at"
        " FROM distillation_runs WHERE status = 'active'"
    )
    if row is None:
        return None
    return ActiveMemory(
        version=row["version"], run_id=str(row["run_id"]), object_name=row["object_name"],
        sha256=row["sha256"], similarity=row["similarity"], embedder=row["embedder"],
        entries=row["train_samples"], activated_at=row["activated_at"],
    )  # fmt: skip
