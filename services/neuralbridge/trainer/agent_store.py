"""The ``agents`` and ``agent_documents`` tables (migration 0004): all their SQL.

Every write a training job makes names the agent's ``generation`` it was
enqueued for, so a superseded job (the agent was asked to train again since)
can never overwrite the newer run's state. Progress only rises within a
generation (``GREATEST``); a new generation starts again from 0.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg
import msgspec

from neuralbridge.messages.agents import AgentDocument, AgentState, ModelConfig

if TYPE_CHECKING:
    from neuralbridge.core.db import Connection

__all__ = [
    "BUSY_STATUSES",
    "AgentRow",
    "StoredDocument",
    "claim_training",
    "count_documents",
    "finish_training",
    "insert_agent",
    "list_documents",
    "load_agent",
    "lock_agent",
    "queue_training",
    "set_agent_progress",
    "set_run_id",
    "set_training",
    "upsert_document",
]

#: While an agent is in one of these, no document may change and no new training start.
BUSY_STATUSES = frozenset({"queued", "processing", "training"})


@dataclass(frozen=True, slots=True)
class AgentRow:
    """What a training job needs of its agent."""

    agent_id: str
    name: str
    model_config: ModelConfig


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """One document on disk."""

    document_id: str
    category: str
    filename: str
    path: str


async def insert_agent(
    pool: asyncpg.Pool, agent_id: str, name: str, expected: int | None, config: ModelConfig
) -> None:
    """Create an agent in status ``pending``."""
    await pool.execute(
        "INSERT INTO agents (id, name, expected_documents, model_config) VALUES ($1, $2, $3, $4)",
        uuid.UUID(agent_id), name, expected, json.dumps(config),
    )  # fmt: skip


async def load_agent(conn: asyncpg.Pool | Connection, agent_id: str) -> AgentState | None:
    """The agent with its documents, or ``None``."""
    row = await conn.fetchrow("SELECT * FROM agents WHERE id = $1", uuid.UUID(agent_id))
    if row is None:
        return None
    docs = await conn.fetch(
        "SELECT category, filename, size_bytes, sha256, uploaded_at FROM agent_documents"
        " WHERE agent_id = $1 ORDER BY category, filename",
        row["id"],
    )
    return AgentState(
        agent_id=str(row["id"]), name=row["name"], status=row["status"],
        expected_documents=row["expected_documents"], model_config=_json(row["model_config"]),
        documents=[
            AgentDocument(category=d["category"], filename=d["filename"],
                          size_bytes=int(d["size_bytes"]), sha256=d["sha256"],
                          uploaded_at=_iso(d["uploaded_at"]) or "")
            for d in docs
        ],
        run_id=str(row["run_id"]) if row["run_id"] else None,
        progress_percentage=float(row["progress_percentage"]), step=row["step"],
        csv_path=row["csv_path"], chunk_count=row["chunk_count"],
        results=_json(row["results"]) if row["results"] is not None else None,
        error_message=row["error_message"], created_at=_iso(row["created_at"]) or "",
        updated_at=_iso(row["updated_at"]) or "",
    )  # fmt: skip


async def lock_agent(conn: Connection, agent_id: str) -> asyncpg.Record | None:
    """Lock the agent's row for this transaction; return its status and document goal."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT status, expected_documents FROM agents WHERE id = $1 FOR UPDATE",
        uuid.UUID(agent_id),
    )
    return row


async def upsert_document(
    conn: Connection, agent_id: str, *, category: str, filename: str, path: str,
    sha256: str, size: int,
) -> None:  # fmt: skip
    """Record a document; the same file name in the same category replaces the older one."""
    await conn.execute(
        """
        INSERT INTO agent_documents (id, agent_id, category, filename, path, sha256, size_bytes)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (agent_id, category, filename) DO UPDATE
            SET path = EXCLUDED.path, sha256 = EXCLUDED.sha256,
                size_bytes = EXCLUDED.size_bytes, uploaded_at = now()
        """,
        uuid.uuid4(), uuid.UUID(agent_id), category, filename, path, sha256, size,
    )  # fmt: skip
    await conn.execute("UPDATE agents SET updated_at = now() WHERE id = $1", uuid.UUID(agent_id))


async def count_documents(conn: asyncpg.Pool | Connection, agent_id: str) -> int:
    """How many documents the agent has."""
    value = await conn.fetchval(
        "SELECT count(*) FROM agent_documents WHERE agent_id = $1", uuid.UUID(agent_id)
    )
    return int(value or 0)


async def list_documents(conn: asyncpg.Pool | Connection, agent_id: str) -> list[StoredDocument]:
    """The agent's documents in upload-folder order (work product, communication, reference)."""
    rows = await conn.fetch(
        """
        SELECT id, category, filename, path FROM agent_documents WHERE agent_id = $1
        ORDER BY array_position(ARRAY['work_product', 'communication', 'reference'], category),
                 filename
        """,
        uuid.UUID(agent_id),
    )
    return [StoredDocument(str(r["id"]), r["category"], r["filename"], r["path"]) for r in rows]


async def queue_training(conn: Connection, agent_id: str) -> int:
    """Start a new generation: status ``queued``, progress and last outcome cleared."""
    value = await conn.fetchval(
        """
        UPDATE agents SET status = 'queued', generation = generation + 1, run_id = NULL,
            progress_percentage = 0, step = NULL, results = NULL, error_message = NULL,
            training_started_at = NULL, training_finished_at = NULL, updated_at = now()
        WHERE id = $1 RETURNING generation
        """,
        uuid.UUID(agent_id),
    )
    return int(value)


async def set_run_id(conn: Connection, agent_id: str, generation: int, run_id: str) -> None:
    """Remember which job run trains this generation (``nb jobs cancel <run id>``)."""
    await conn.execute(
        "UPDATE agents SET run_id = $3 WHERE id = $1 AND generation = $2",
        uuid.UUID(agent_id), generation, uuid.UUID(run_id),
    )  # fmt: skip


async def claim_training(
    pool: asyncpg.Pool, agent_id: str, generation: int, run_id: str
) -> AgentRow | None:
    """Mark the generation ``processing`` by ``run_id``; ``None`` if gone or re-queued.

    ``run_id`` is recorded again because ``nb jobs retry`` re-runs a failed
    generation under a new run id.
    """
    row = await pool.fetchrow(
        """
        UPDATE agents SET status = 'processing', run_id = $3, training_started_at = now(),
            training_finished_at = NULL, error_message = NULL, results = NULL,
            progress_percentage = 0, step = NULL, updated_at = now()
        WHERE id = $1 AND generation = $2 RETURNING id, name, model_config
        """,
        uuid.UUID(agent_id), generation, uuid.UUID(run_id),
    )  # fmt: skip
    if row is None:
        return None
    return AgentRow(str(row["id"]), row["name"], _json(row["model_config"]))


async def set_training(
    pool: asyncpg.Pool, agent_id: str, generation: int, csv_path: str, chunks: int
) -> None:
    """The CSV is written: status ``training``."""
    await pool.execute(
        """
        UPDATE agents SET status = 'training', csv_path = $3, chunk_count = $4, updated_at = now()
        WHERE id = $1 AND generation = $2
        """,
        uuid.UUID(agent_id), generation, csv_path, chunks,
    )  # fmt: skip


async def set_agent_progress(
    pool: asyncpg.Pool, agent_id: str, generation: int, percentage: float, step: str
) -> None:
    """Raise the generation's progress (never lower it) and show its step."""
    await pool.execute(
        """
        UPDATE agents SET progress_percentage = GREATEST(progress_percentage, $3), step = $4,
            updated_at = now()
        WHERE id = $1 AND generation = $2
        """,
        uuid.UUID(agent_id), generation, min(max(percentage, 0.0), 100.0), step,
    )  # fmt: skip


async def finish_training(
    pool: asyncpg.Pool, agent_id: str, generation: int, status: str, *,
    results: dict[str, Any] | None = None, error: str | None = None,
) -> None:  # fmt: skip
    """Record the generation's outcome (``completed`` also sets progress to 100)."""
    await pool.execute(
        """
        UPDATE agents SET status = $3, results = $4, error_message = $5,
            training_finished_at = now(), updated_at = now(),
            progress_percentage = CASE WHEN $3 = 'completed' THEN 100
                                       ELSE progress_percentage END
        WHERE id = $1 AND generation = $2
        """,
        uuid.UUID(agent_id), generation, status,
        None if results is None else json.dumps(results), error,
    )  # fmt: skip


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
