"""Reads other processes ask of the worker over NATS request/reply.

``dataset.query.list`` → every dataset with item and chunk counts;
``dataset.query.export`` ``{"dataset": name}`` → the dataset's chunks as CSV
(seed 002's columns) written to the uploads object store, answered with the
object's name. Replies are JSON; an error is ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

import asyncpg
import structlog
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.object_store import ObjectStore

from neuralbridge.core.bus import Bus
from neuralbridge.core.subjects import DATASET_QUERY_SUBJECT
from neuralbridge.dataset_transform import store
from neuralbridge.documents import ChunkRow, write_chunks_csv

__all__ = ["serve_queries"]

log = structlog.get_logger()


async def serve_queries(bus: Bus, pool: asyncpg.Pool, uploads: ObjectStore) -> list[Subscription]:
    """Answer list/export requests (a queue group: one replica answers each)."""

    async def on_list(msg: Msg) -> None:
        async with pool.acquire() as conn:
            rows = await store.dataset_summaries(conn)
        await msg.respond(json.dumps(rows).encode())

    async def on_export(msg: Msg) -> None:
        try:
            name = str(json.loads(msg.data)["dataset"])
        except (ValueError, KeyError, TypeError):
            await msg.respond(b'{"error": "request body must be {\\"dataset\\": name}"}')
            return
        await msg.respond(json.dumps(await _export(pool, uploads, name)).encode())

    return [
        await bus.nc.subscribe(
            f"{DATASET_QUERY_SUBJECT}.list", queue="dataset_transform", cb=on_list
        ),
        await bus.nc.subscribe(
            f"{DATASET_QUERY_SUBJECT}.export", queue="dataset_transform", cb=on_export
        ),
    ]


async def _export(pool: asyncpg.Pool, uploads: ObjectStore, name: str) -> dict[str, object]:
    async with pool.acquire() as conn:
        dataset = await store.dataset_id(conn, name)
    if dataset is None:
        return {"error": f"dataset {name!r} does not exist"}
    rows: list[ChunkRow] = []
    async for batch in store.chunk_batches(pool, store.Scope(dataset), 1000):
        rows.extend(_row(c) for c in batch)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        count = write_chunks_csv(rows, path)
        object_name = f"exports/{name}-{uuid.uuid4().hex[:8]}.csv"
        with path.open("rb") as handle:
            await uploads.put(object_name, handle)
    log.info("dataset_exported", dataset=name, rows=count)
    return {"object": object_name, "rows": count}


def _row(chunk: store.ChunkRecord) -> ChunkRow:
    return ChunkRow(
        document_id=chunk.item_id,
        document_type=chunk.document_type,
        filename=chunk.source_file,
        chunk_index=chunk.chunk_index,
        text=chunk.text,
        title=chunk.title,
        author=chunk.author,
        char_start=chunk.char_start,
        char_end=chunk.char_end,
    )
