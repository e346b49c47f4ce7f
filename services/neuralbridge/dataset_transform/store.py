"""The worker's PostgreSQL tables: datasets, items, chunks, transforms, cache.

All SQL of the service lives here; the handlers speak in rows. Reads of chunks
are keyset-paginated so memory stays flat however large the dataset is.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

__all__ = [
    "ChunkRecord",
    "Scope",
    "chunk_batches",
    "count_chunks",
    "dataset_id",
    "dataset_summaries",
    "done_batches",
    "ensure_dataset",
    "finish_transform",
    "item_chunk_counts",
    "record_batch",
    "replace_item",
    "start_transform",
]

_ITEMS_NS = uuid.UUID("0c6d3c1e-5a7b-5f1a-8e4b-6974656d7321")


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """One chunk with what its Qdrant payload needs."""

    item_id: str
    chunk_index: int
    text: str
    text_sha256: str
    source_file: str
    document_type: str
    title: str | None
    author: str | None
    custom_metadata: dict[str, Any]
    char_start: int = 0
    char_end: int = 0


@dataclass(frozen=True, slots=True)
class Scope:
    """Which chunks a transform covers: all, one document, or one chunk of it."""

    dataset_id: str
    source_file: str | None = None
    chunk_index: int | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = ["i.dataset_id = $1"]
        args: list[Any] = [uuid.UUID(self.dataset_id)]
        if self.source_file is not None:
            args.append(self.source_file)
            clauses.append(f"i.source_file = ${len(args)}")
        if self.chunk_index is not None:
            args.append(self.chunk_index)
            clauses.append(f"c.chunk_index = ${len(args)}")
        return " AND ".join(clauses), args


async def dataset_id(conn: Any, name: str) -> str | None:
    """The id of dataset ``name``, or ``None``."""
    value = await conn.fetchval("SELECT id FROM datasets WHERE name = $1", name)
    return str(value) if value else None


async def ensure_dataset(conn: Any, name: str) -> str:
    """The id of dataset ``name``, created if needed."""
    await conn.execute(
        "INSERT INTO datasets (id, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        uuid.uuid4(),
        name,
    )
    return str(await conn.fetchval("SELECT id FROM datasets WHERE name = $1", name))


async def replace_item(
    conn: Any,
    dataset: str,
    *,
    source_file: str,
    document_type: str,
    title: str | None,
    author: str | None,
    custom_metadata: dict[str, Any],
    sha256: str,
    chunks: Sequence[tuple[int, str, int, int, str]],
) -> str:
    """Store a document and its chunks (index, text, start, end, sha256), replacing old ones.

    The item id is derived from (dataset, source file), so re-ingesting a file
    updates it in place; a file re-chunked into fewer chunks loses the extra rows.
    """
    item_id = uuid.uuid5(_ITEMS_NS, f"{dataset}:{source_file}")
    await conn.execute(
        "INSERT INTO dataset_items (id, dataset_id, source_file, document_type, title, author,"
        " custom_metadata, sha256, chunk_count) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)"
        " ON CONFLICT (id) DO UPDATE SET document_type = EXCLUDED.document_type,"
        " title = EXCLUDED.title, author = EXCLUDED.author,"
        " custom_metadata = EXCLUDED.custom_metadata, sha256 = EXCLUDED.sha256,"
        " chunk_count = EXCLUDED.chunk_count, updated_at = now()",
        item_id,
        uuid.UUID(dataset),
        source_file,
        document_type,
        title,
        author,
        json.dumps(custom_metadata),
        sha256,
        len(chunks),
    )
    await conn.execute("DELETE FROM chunks WHERE item_id = $1", item_id)
    await conn.copy_records_to_table(
        "chunks",
        records=[(item_id, *chunk) for chunk in chunks],
        columns=["item_id", "chunk_index", "text", "char_start", "char_end", "text_sha256"],
    )
    return str(item_id)


async def count_chunks(conn: Any, scope: Scope) -> int:
    """How many chunks ``scope`` covers."""
    where, args = scope.where()
    sql = f"SELECT count(*) FROM chunks c JOIN dataset_items i ON i.id = c.item_id WHERE {where}"
    return int(await conn.fetchval(sql, *args))


async def chunk_batches(
    pool: asyncpg.Pool, scope: Scope, batch_size: int
) -> AsyncIterator[list[ChunkRecord]]:
    """Yield the scope's chunks in (item, index) order, ``batch_size`` at a time."""
    where, args = scope.where()
    after_item, after_index = uuid.UUID(int=0), -1
    n = len(args)
    sql = (
        "SELECT c.item_id, c.chunk_index, c.text, c.text_sha256, c.char_start, c.char_end,"
        " i.source_file, i.document_type, i.title, i.author, i.custom_metadata"
        " FROM chunks c JOIN dataset_items i ON i.id = c.item_id"
        f" WHERE {where} AND (c.item_id, c.chunk_index) > (${n + 1}, ${n + 2})"
        f" ORDER BY c.item_id, c.chunk_index LIMIT ${n + 3}"
    )
    while True:
        rows = await pool.fetch(sql, *args, after_item, after_index, batch_size)
        if not rows:
            return
        yield [_chunk(r) for r in rows]
        after_item, after_index = rows[-1]["item_id"], rows[-1]["chunk_index"]


def _chunk(row: Any) -> ChunkRecord:
    metadata = row["custom_metadata"]
    return ChunkRecord(
        item_id=str(row["item_id"]),
        chunk_index=row["chunk_index"],
        text=row["text"],
        text_sha256=row["text_sha256"],
        source_file=row["source_file"],
        document_type=row["document_type"],
        title=row["title"],
        author=row["author"],
        custom_metadata=json.loads(metadata) if isinstance(metadata, str) else dict(metadata),
        char_start=row["char_start"],
        char_end=row["char_end"],
    )


async def item_chunk_counts(conn: Any, scope: Scope) -> dict[str, int]:
    """``{item id: chunk_count}`` for the items in scope (stale-point removal)."""
    clauses: list[str] = ["dataset_id = $1"]
    args: list[Any] = [uuid.UUID(scope.dataset_id)]
    if scope.source_file is not None:
        args.append(scope.source_file)
        clauses.append("source_file = $2")
    rows = await conn.fetch(
        f"SELECT id, chunk_count FROM dataset_items WHERE {' AND '.join(clauses)}", *args
    )
    return {str(r["id"]): int(r["chunk_count"]) for r in rows}


async def start_transform(
    conn: Any, transform_id: str, *, dataset: str, collection: str, embedder: str, total: int
) -> None:
    """Create the transform row, or mark a redelivered one running again."""
    await conn.execute(
        "INSERT INTO transforms (id, dataset_id, collection, embedder, status, total_chunks,"
        " attempts, started_at) VALUES ($1, $2, $3, $4::jsonb, 'running', $5, 1, now())"
        " ON CONFLICT (id) DO UPDATE SET status = 'running', total_chunks = EXCLUDED.total_chunks,"
        " attempts = transforms.attempts + 1, error = NULL, finished_at = NULL",
        uuid.UUID(transform_id),
        uuid.UUID(dataset),
        collection,
        embedder,
        total,
    )


async def done_batches(conn: Any, transform_id: str) -> dict[int, tuple[str, int, int]]:
    """Batches recorded by earlier attempts: ``{index: (last item, last chunk, count)}``."""
    rows = await conn.fetch(
        "SELECT batch_index, last_item_id, last_chunk, chunk_count FROM transform_batches"
        " WHERE transform_id = $1",
        uuid.UUID(transform_id),
    )
    return {
        r["batch_index"]: (str(r["last_item_id"]), r["last_chunk"], r["chunk_count"]) for r in rows
    }


async def record_batch(
    conn: Any,
    transform_id: str,
    batch_index: int,
    batch: Sequence[ChunkRecord],
    *,
    embedded_now: int,
    from_cache: int,
    calls: int,
) -> None:
    """Record a finished batch and add it to the transform's counters."""
    last = batch[-1]
    status = await conn.execute(
        "INSERT INTO transform_batches (transform_id, batch_index, chunk_count, embedded_now,"
        " from_cache, last_item_id, last_chunk) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT DO NOTHING",
        uuid.UUID(transform_id),
        batch_index,
        len(batch),
        embedded_now,
        from_cache,
        uuid.UUID(last.item_id),
        last.chunk_index,
    )
    if status.endswith(" 1"):
        await conn.execute(
            "UPDATE transforms SET embedded_chunks = embedded_chunks + $2,"
            " batches_done = batches_done + 1, embedder_calls = embedder_calls + $3 WHERE id = $1",
            uuid.UUID(transform_id),
            len(batch),
            calls,
        )


async def finish_transform(
    conn: Any,
    transform_id: str,
    *,
    status: str,
    error: str | None = None,
    embedded: dict[str, Any] | None = None,
) -> None:
    """Set the final status; on success also write the EmbeddedDataset record."""
    await conn.execute(
        "UPDATE transforms SET status = $2, error = $3, finished_at = now() WHERE id = $1",
        uuid.UUID(transform_id),
        status,
        error,
    )
    if embedded is None:
        return
    await conn.execute(
        "INSERT INTO embedded_datasets (id, dataset_id, transform_id, collection, embedder,"
        " vector_size, distance, points)"
        " SELECT $1, dataset_id, id, collection, embedder, $2, $3, $4 FROM transforms"
        " WHERE id = $5 ON CONFLICT (transform_id) DO UPDATE SET vector_size"
        " = EXCLUDED.vector_size, points = EXCLUDED.points",
        uuid.uuid4(),
        embedded["vector_size"],
        embedded["distance"],
        embedded["points"],
        uuid.UUID(transform_id),
    )


async def dataset_summaries(conn: Any) -> list[dict[str, Any]]:
    """Every dataset with its item and chunk counts."""
    rows = await conn.fetch(
        "SELECT d.name, count(DISTINCT i.id) AS items, coalesce(sum(i.chunk_count), 0) AS chunks"
        " FROM datasets d LEFT JOIN dataset_items i ON i.dataset_id = d.id"
        " GROUP BY d.name ORDER BY d.name"
    )
    return [{"name": r["name"], "items": r["items"], "chunks": int(r["chunks"])} for r in rows]
