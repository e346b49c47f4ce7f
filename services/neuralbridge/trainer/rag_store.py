"""The SQL of RAG training: what answers cited (``query_logs.sources``), the adapter registry.

``rag_adapters`` holds one row per trained adapter version and collection;
at most one is ``active`` (a partial unique index says so). A replaced active
version becomes ``superseded``; one that regressed becomes ``rolled_back``;
a candidate that did not beat the baseline or the active version is
``rejected``. Every status change says why in ``reason``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # A connection, or a pool's proxy for one (subscriptable only in the stubs).
    Connection: TypeAlias = asyncpg.Connection[Any] | PoolConnectionProxy[Any]

__all__ = [
    "AdapterRow",
    "FeedbackRow",
    "NewAdapter",
    "active_adapter",
    "adapter_of_run",
    "feedback_rows",
    "insert_adapter",
    "next_version",
    "previous_adapters",
    "set_status",
]


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """A rated answer with the passages it was given."""

    request_id: str
    query: str
    answer: str
    score: int
    sources: list[dict[str, Any]]


async def feedback_rows(
    pool: asyncpg.Pool, since: datetime, until: datetime, *, positive: int, negative: int
) -> list[FeedbackRow]:
    """Answers logged in ``[since, until)`` with a score ``>= positive`` or ``<= negative``
    and at least one source, oldest first."""
    rows = await pool.fetch(
        """
        SELECT q.request_id, q.query, q.answer, f.score, q.sources
        FROM query_logs q JOIN feedback f ON f.request_id = q.request_id
        WHERE q.logged_at >= $1 AND q.logged_at < $2
          AND (f.score >= $3 OR f.score <= $4)
          AND jsonb_array_length(q.sources) > 0
        ORDER BY q.logged_at, q.request_id
        """,
        since, until, positive, negative,
    )  # fmt: skip
    return [
        FeedbackRow(
            request_id=r["request_id"],
            query=r["query"],
            answer=r["answer"],
            score=int(r["score"]),
            sources=_json(r["sources"]),
        )
        for r in rows
    ]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class AdapterRow:
    """One registered adapter version."""

    collection: str
    version: int
    object_name: str
    sha256: str
    dimensions: int
    status: str
    metrics_after: dict[str, Any]
    activated_at: datetime | None


_SELECT_ADAPTERS = (
    "SELECT collection, version, object_name, sha256, dimensions, status, metrics_after,"
    " activated_at FROM rag_adapters"
)


def _adapter(row: asyncpg.Record) -> AdapterRow:
    return AdapterRow(
        collection=row["collection"], version=int(row["version"]),
        object_name=row["object_name"], sha256=row["sha256"],
        dimensions=int(row["dimensions"]), status=row["status"],
        metrics_after=_json(row["metrics_after"]), activated_at=row["activated_at"],
    )  # fmt: skip


async def active_adapter(pool: asyncpg.Pool, collection: str) -> AdapterRow | None:
    """The active version of ``collection``, if any."""
    row = await pool.fetchrow(
        _SELECT_ADAPTERS + " WHERE collection = $1 AND status = 'active'",
        collection,
    )
    return None if row is None else _adapter(row)


async def adapter_of_run(pool: asyncpg.Pool, run_id: str, collection: str) -> AdapterRow | None:
    """The version this run already registered (a retried run registers once)."""
    row = await pool.fetchrow(
        _SELECT_ADAPTERS + " WHERE run_id = $1 AND collection = $2",
        run_id, collection,
    )  # fmt: skip
    return None if row is None else _adapter(row)


async def previous_adapters(pool: asyncpg.Pool, collection: str, limit: int) -> list[AdapterRow]:
    """Versions that were active before (``superseded``), newest first."""
    rows = await pool.fetch(
        _SELECT_ADAPTERS + " WHERE collection = $1 AND status = 'superseded'"
        " ORDER BY version DESC LIMIT $2",
        collection, limit,
    )  # fmt: skip
    return [_adapter(r) for r in rows]


@dataclass(frozen=True, slots=True)
class NewAdapter:
    """A candidate to register."""

    collection: str
    run_id: str
    object_name: str
    sha256: str
    dimensions: int
    train_pairs: int
    heldout_queries: int
    config: dict[str, Any]
    metrics_before: dict[str, Any]
    metrics_after: dict[str, Any]


async def insert_adapter(
    conn: Connection, new: NewAdapter, version: int, status: str, reason: str | None
) -> None:
    """Register version ``version`` of ``new.collection`` with ``status``."""
    await conn.execute(
        """
        INSERT INTO rag_adapters (collection, version, run_id, object_name, sha256, dimensions,
            status, reason, train_pairs, heldout_queries, config, metrics_before, metrics_after,
            activated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                CASE WHEN $7 = 'active' THEN now() END)
        """,
        new.collection, version, new.run_id, new.object_name, new.sha256, new.dimensions,
        status, reason, new.train_pairs, new.heldout_queries, json.dumps(new.config),
        json.dumps(new.metrics_before), json.dumps(new.metrics_after),
    )  # fmt: skip


async def next_version(conn: Connection, collection: str) -> int:
    """The next version number of ``collection`` (call inside the registering transaction)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('rag_adapters:' || $1))", collection)
    value = await conn.fetchval(
        "SELECT coalesce(max(version), 0) + 1 FROM rag_adapters WHERE collection = $1", collection
    )
    return int(value)


async def set_status(
    conn: Connection, collection: str, version: int, status: str, reason: str
) -> None:
    """Move a version to ``status`` (``active`` dates its activation, others the end)."""
    await conn.execute(
        """
        UPDATE rag_adapters SET status = $3, reason = $4,
            activated_at = CASE WHEN $3 = 'active' THEN now() ELSE activated_at END,
            deactivated_at = CASE WHEN $3 = 'active' THEN NULL ELSE now() END
        WHERE collection = $1 AND version = $2
        """,
        collection, version, status, reason,
    )  # fmt: skip
