"""The transform handler: chunks → embeddings → Qdrant, in three overlapping stages.

Per batch of ``EMBEDDING_BATCH_SIZE`` chunks: fetch from PostgreSQL → embed
(vectors already in the embedding cache are not asked for again; new ones are
cached as soon as they arrive) → upload to Qdrant → record the batch → publish
progress. The stages run concurrently with small queues between them, so the
next batch is fetched and embedded while the previous one uploads and the
pipeline runs at the embedder's speed. A redelivered job skips the batches an
earlier attempt recorded, and the cache means at most the one batch that was
being embedded at a crash is embedded again. Point ids are deterministic, so
whatever is uploaded twice is overwritten, never duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec
import structlog
from qdrant_client import AsyncQdrantClient, models

from neuralbridge.core.errors import PermanentError
from neuralbridge.core.runner import JobContext
from neuralbridge.dataset_transform import cache, store
from neuralbridge.dataset_transform import metrics as m
from neuralbridge.dataset_transform.embedders import EmbedderPool
from neuralbridge.dataset_transform.jobs import describe, scope_of
from neuralbridge.dataset_transform.settings import DatasetTransformSettings
from neuralbridge.dataset_transform.state import StateBoard
from neuralbridge.embedders import Embedder, EmbedderProfile
from neuralbridge.messages.datasets import TransformJob, TransformState
from neuralbridge.vectors import (
    CollectionSpec,
    count_points,
    delete_stale_points,
    ensure_collection,
    point_id,
    switch_alias,
    upload_points,
    vector_size,
)

__all__ = ["TransformHandler"]

log = structlog.get_logger()

_Embedded = tuple[int, list[store.ChunkRecord], list[list[float]] | None, int, int]


@dataclass(slots=True)
class _Run:
    """One attempt at one transform: what it covers and how far it got."""

    job: TransformJob
    profile: EmbedderProfile
    scope: store.Scope
    embedder: Embedder
    done: dict[int, tuple[str, int, int]]
    state: TransformState
    collection_ready: bool = False
    created_collection: bool = False
    size: int | None = None
    batches: int = 0
    calls: int = field(default=0)

    def already_done(self, index: int, batch: list[store.ChunkRecord]) -> bool:
        last = batch[-1]
        return self.done.get(index) == (last.item_id, last.chunk_index, len(batch))


class TransformHandler:
    """Handle :class:`TransformJob` messages (see the module docstring)."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        qdrant: AsyncQdrantClient,
        board: StateBoard,
        embedders: EmbedderPool,
        settings: DatasetTransformSettings,
        max_deliver: int,
    ) -> None:
        self._pool, self._qdrant, self._board = pool, qdrant, board
        self._embedders, self._settings, self._max_deliver = embedders, settings, max_deliver

    async def __call__(self, job: TransformJob, ctx: JobContext) -> None:
        started = time.perf_counter()
        m.ACTIVE_JOBS.inc()
        m.WORKER_ACTIVE_JOBS.labels(m.WORKER).inc()
        if ctx.deliveries > 1:
            m.WORKER_RETRIES.labels(m.WORKER).inc()
        try:
            run = await self._prepare(job)
            await self._execute(run)
        except Exception as exc:
            final = isinstance(exc, PermanentError) or ctx.deliveries >= self._max_deliver
            await self._fail(job, exc, final=final)
            raise
        finally:
            m.ACTIVE_JOBS.dec()
            m.WORKER_ACTIVE_JOBS.labels(m.WORKER).dec()
        m.JOBS.labels("success").inc()
        m.DURATION.observe(time.perf_counter() - started)
        m.BATCHES_PROCESSED.observe(run.batches)
        m.CHUNKS_EMBEDDED.observe(run.state.embedded_chunks)

    async def _prepare(self, job: TransformJob) -> _Run:
        # An unknown or unusable embedder fails first, before any work (permanently).
        profile = self._embedders.resolve(job.embedder)
        embedder = self._embedders.get(profile)
        async with self._pool.acquire() as conn:
            dataset = await store.dataset_id(conn, job.dataset)
            if dataset is None:
                raise PermanentError(
                    f"dataset {job.dataset!r} does not exist; ingest documents into it first"
                )
            scope = scope_of(job, dataset)
            total = await store.count_chunks(conn, scope)
            if total == 0:
                raise PermanentError(f"nothing to embed: {describe(job)} has no chunks")
            if total > self._settings.max_chunks_per_job:
                raise PermanentError(
                    f"{describe(job)} has {total} chunks, more than MAX_CHUNKS_PER_JOB="
                    f"{self._settings.max_chunks_per_job}; split it or raise the limit"
                )
            await store.start_transform(
                conn,
                job.transform_id,
                dataset=dataset,
                collection=job.collection,
                # Never an inline key: only what names the vectors and endpoint.
                embedder=msgspec.json.encode(profile.plain()).decode(),
                total=total,
            )
            done = await store.done_batches(conn, job.transform_id)
        state = TransformState(
            transform_id=job.transform_id,
            dataset=job.dataset,
            collection=job.collection,
            status="running",
            total_chunks=total,
        )
        await self._board.transform(state, "progress")
        return _Run(
            job=job, profile=profile, scope=scope, embedder=embedder, done=done, state=state
        )

    async def _execute(self, run: _Run) -> None:
        lanes = self._settings.embedder_concurrency
        fetched: asyncio.Queue[tuple[int, list[store.ChunkRecord]] | None] = asyncio.Queue(
            lanes + 1
        )
        embedded: asyncio.Queue[_Embedded | None] = asyncio.Queue(lanes + 1)
        await _all_or_nothing(
            self._fetch(run, fetched),
            self._embed(run, fetched, embedded),
            self._upload(run, embedded),
        )
        await self._finish(run)

    async def _fetch(
        self, run: _Run, out: asyncio.Queue[tuple[int, list[store.ChunkRecord]] | None]
    ) -> None:
        index = 0
        async for batch in store.chunk_batches(
            self._pool, run.scope, self._settings.embedding_batch_size
        ):
            await out.put((index, batch))
            index += 1
        await out.put(None)

    async def _embed(
        self,
        run: _Run,
        inbox: asyncio.Queue[tuple[int, list[store.ChunkRecord]] | None],
        out: asyncio.Queue[_Embedded | None],
    ) -> None:
        async def lane() -> None:
            while (item := await inbox.get()) is not None:
                index, batch = item
                if run.already_done(index, batch):
                    await out.put((index, batch, None, 0, len(batch)))
                    continue
                vectors, fresh = await self._vectors(run, batch)
                await out.put((index, batch, vectors, fresh, len(batch) - fresh))
            await inbox.put(None)  # the end marker, for the other lanes

        await asyncio.gather(*(lane() for _ in range(self._settings.embedder_concurrency)))
        await out.put(None)

    async def _vectors(
        self, run: _Run, batch: list[store.ChunkRecord]
    ) -> tuple[list[list[float]], int]:
        # The endpoint is part of the cache key: vectors from a job's own endpoint
        # must never be served to a profile that embeds elsewhere.
        identity = f"document:{run.profile.endpoint_identity}"
        async with self._pool.acquire() as conn:
            known = await cache.cached_vectors(conn, identity, (c.text_sha256 for c in batch))
        missing = {c.text_sha256: c.text for c in batch if c.text_sha256 not in known}
        if missing:
            vectors = await run.embedder.embed(list(missing.values()), kind="document")
            new = dict(zip(missing, vectors, strict=True))
            async with self._pool.acquire() as conn:
                await cache.store_vectors(conn, identity, new)
            known.update(new)
            run.calls += 1
        return [known[c.text_sha256] for c in batch], len(missing)

    async def _upload(self, run: _Run, inbox: asyncio.Queue[_Embedded | None]) -> None:
        while (item := await inbox.get()) is not None:
            index, batch, vectors, fresh, cached = item
            if vectors is not None:
                await self._ensure_collection(run, len(vectors[0]))
                points = [_point(run, c, v) for c, v in zip(batch, vectors, strict=True)]
                await upload_points(
                    self._qdrant,
                    run.job.collection,
                    points,
                    batch_size=self._settings.qdrant_upload_batch_size,
                )
                async with self._pool.acquire() as conn:
                    await store.record_batch(
                        conn, run.job.transform_id, index, batch,
                        embedded_now=fresh, from_cache=cached, calls=1 if fresh else 0,
                    )  # fmt: skip
            run.batches += 1
            run.state = msgspec.structs.replace(
                run.state,
                embedded_chunks=run.state.embedded_chunks + len(batch),
                batches_done=run.batches,
                embedder_calls=run.calls,
                cache_hits=run.state.cache_hits + (cached if vectors is not None else 0),
            )
            await self._board.transform(run.state, "progress")

    async def _ensure_collection(self, run: _Run, size: int) -> None:
        if run.collection_ready:
            return
        s = self._settings
        spec = CollectionSpec(
            name=run.job.collection,
            size=size,
            distance=s.qdrant_distance,
            hnsw_m=s.qdrant_hnsw_m,
            hnsw_ef_construct=s.qdrant_hnsw_ef_construct,
            quantization=s.qdrant_enable_quantization,
        )
        created = await ensure_collection(self._qdrant, spec, create=s.qdrant_create_collection)
        run.collection_ready, run.created_collection, run.size = True, created, size

    async def _finish(self, run: _Run) -> None:
        job = run.job
        if job.operation != "chunk" and not run.created_collection:
            # A collection this run created cannot hold points of older chunkings.
            async with self._pool.acquire() as conn:
                counts = await store.item_chunk_counts(conn, run.scope)
            await delete_stale_points(self._qdrant, job.collection, counts)
        points = await count_points(self._qdrant, job.collection, run.scope.dataset_id)
        size = run.size or await vector_size(self._qdrant, job.collection) or 0
        if job.switch_alias:
            await switch_alias(self._qdrant, job.switch_alias, job.collection)
        async with self._pool.acquire() as conn:
            await store.finish_transform(
                conn,
                job.transform_id,
                status="completed",
                embedded={"vector_size": size, "distance": self._settings.qdrant_distance,
                          "points": points},
            )  # fmt: skip
        run.state = msgspec.structs.replace(run.state, status="completed", points=points)
        await self._board.transform(run.state, "completed")
        log.info("transform_completed", transform_id=job.transform_id, points=points,
                 embedder_calls=run.calls, batches=run.batches)  # fmt: skip

    async def _fail(self, job: TransformJob, exc: Exception, *, final: bool) -> None:
        m.WORKER_FAILURES.labels(m.WORKER, type(exc).__name__).inc()
        error = f"{type(exc).__name__}: {exc}"
        if final:
            m.JOBS.labels("failure").inc()
        with contextlib.suppress(Exception):
            async with self._pool.acquire() as conn:
                await store.finish_transform(
                    conn, job.transform_id, status="failed" if final else "running", error=error
                )
        state = TransformState(
            transform_id=job.transform_id,
            dataset=job.dataset,
            collection=job.collection,
            status="failed" if final else "running",
            error=error if final else f"retrying after {error}",
        )
        with contextlib.suppress(Exception):
            await self._board.transform(state, "failed" if final else "progress")


def _point(run: _Run, chunk: store.ChunkRecord, vector: list[float]) -> models.PointStruct:
    return models.PointStruct(
        id=point_id(chunk.item_id, chunk.chunk_index, run.profile.cache_identity),
        vector=vector,
        payload={
            "dataset_id": run.scope.dataset_id,
            "dataset": run.job.dataset,
            "dataset_item_id": chunk.item_id,
            "chunk_index": chunk.chunk_index,
            "text": chunk.text,
            "source_file": chunk.source_file,
            "author": chunk.author,
            "title": chunk.title,
            "custom_metadata": chunk.custom_metadata,
        },
    )


async def _all_or_nothing(*stages: Coroutine[Any, Any, None]) -> None:
    """Run the stages together; the first failure cancels the rest and is raised as is."""
    tasks = [asyncio.create_task(stage) for stage in stages]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
