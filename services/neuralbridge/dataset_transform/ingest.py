"""The ingest handler: an uploaded file → text → chunks → a dataset item.

Files arrive in the JetStream object store ``dataset_uploads`` and an
:class:`IngestJob` names them. Extraction and chunking are the shared
``neuralbridge.documents`` code (the trainer's agent pipeline uses the same);
the item and its chunks replace any earlier version of the same file in one
transaction. A file that cannot be read is a permanent failure: its upload
state says why (and the job goes to the DLQ with the same reason).
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from pathlib import Path

import asyncpg
import structlog
from nats.js.errors import ObjectNotFoundError
from nats.js.object_store import ObjectStore

from neuralbridge.core.errors import PermanentError
from neuralbridge.core.runner import JobContext
from neuralbridge.dataset_transform import store
from neuralbridge.dataset_transform.settings import DatasetTransformSettings
from neuralbridge.dataset_transform.state import StateBoard
from neuralbridge.documents import ExtractedDocument, chunk_text, extract
from neuralbridge.messages.datasets import IngestJob, IngestState

__all__ = ["IngestHandler"]

log = structlog.get_logger()


class IngestHandler:
    """Handle :class:`IngestJob` messages."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        uploads: ObjectStore,
        board: StateBoard,
        settings: DatasetTransformSettings,
        max_deliver: int,
    ) -> None:
        self._pool, self._uploads, self._board, self._settings = pool, uploads, board, settings
        self._max_deliver = max_deliver

    async def __call__(self, job: IngestJob, ctx: JobContext) -> None:
        try:
            chunks = await self._ingest(job)
        except Exception as exc:
            if isinstance(exc, PermanentError) or ctx.deliveries >= self._max_deliver:
                error = str(exc) if isinstance(exc, PermanentError) else f"{job.filename}: {exc}"
                await self._board.upload(_state(job, "failed", error=error))
            raise
        await self._board.upload(_state(job, "done", chunks=chunks))
        await self._uploads.delete(job.object_name)

    async def _ingest(self, job: IngestJob) -> int:
        try:
            blob = await self._uploads.get(job.object_name)
        except ObjectNotFoundError:
            raise PermanentError(
                f"{job.filename}: upload {job.object_name!r} is not in the object store"
            ) from None
        data = blob.data or b""
        document = await asyncio.to_thread(_extract_bytes, job.filename, data)
        size = job.chunk_size or self._settings.ingest_chunk_size
        overlap = (
            self._settings.ingest_chunk_overlap if job.chunk_overlap is None else job.chunk_overlap
        )
        if overlap >= size:
            raise PermanentError(
                f"chunk_overlap ({overlap}) must be smaller than chunk_size ({size})"
            )
        pieces = chunk_text(document.text, size=size, overlap=overlap, unit=job.chunk_unit)
        rows = [
            (c.index, c.text, c.start, c.end, hashlib.sha256(c.text.encode()).hexdigest())
            for c in pieces
        ]
        async with self._pool.acquire() as conn, conn.transaction():
            dataset = await store.ensure_dataset(conn, job.dataset)
            await store.replace_item(
                conn,
                dataset,
                source_file=job.filename,
                document_type=document.format,
                title=document.title,
                author=document.author,
                custom_metadata=dict(job.custom_metadata),
                sha256=document.sha256,
                chunks=rows,
            )
        log.info("document_ingested", dataset=job.dataset, file=job.filename, chunks=len(rows))
        return len(rows)


def _extract_bytes(filename: str, data: bytes) -> ExtractedDocument:
    """Extract from bytes through a temp file named like the upload (suffix decides)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(filename).name
        path.write_bytes(data)
        return extract(path)


def _state(
    job: IngestJob, status: str, *, chunks: int = 0, error: str | None = None
) -> IngestState:
    return IngestState(
        upload_id=job.upload_id,
        dataset=job.dataset,
        filename=job.filename,
        status=status,  # type: ignore[arg-type]
        chunks=chunks,
        error=error,
    )
