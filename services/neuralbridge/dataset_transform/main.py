"""Composition of the dataset-transform worker: two runners (transforms, ingest).

The operator's embedder profiles (``EMBEDDER_PROFILES_FILE`` and the
per-provider defaults) are loaded first: a bad file stops the worker with one
line before it consumes anything.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import asyncpg
import structlog

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.heartbeat import start_heartbeat
from neuralbridge.core.runner import JobRunner
from neuralbridge.core.service import Deps, ServiceSpec
from neuralbridge.core.subjects import UPLOADS_OBJECT_STORE
from neuralbridge.dataset_transform import cache
from neuralbridge.dataset_transform import metrics as m
from neuralbridge.dataset_transform.embedders import EmbedderPool
from neuralbridge.dataset_transform.ingest import IngestHandler
from neuralbridge.dataset_transform.queries import serve_queries
from neuralbridge.dataset_transform.settings import DatasetTransformSettings
from neuralbridge.dataset_transform.state import StateBoard
from neuralbridge.dataset_transform.topology import declare_all, ingest_work, transforms_work
from neuralbridge.dataset_transform.transform import TransformHandler
from neuralbridge.embedders import EmbedderSettings, load_profiles
from neuralbridge.messages.datasets import IngestJob, TransformJob, redact_transform_job

__all__ = ["SERVICE", "main"]

log = structlog.get_logger()

#: Seconds from start to the first eviction of unused cached vectors, then between two.
_FIRST_EVICTION_SECONDS = 60.0
_EVICTION_SECONDS = 3600.0

MIGRATIONS = Path(__file__).with_name("migrations")


async def main(deps: Deps[DatasetTransformSettings], stop: asyncio.Event) -> None:
    """Consume DATASET_TRANSFORMS and DATASET_INGEST until ``stop`` is set."""
    s = deps.settings
    profiles = load_profiles(deps.env)
    log.info("embedder_profiles_loaded", names=profiles.names())
    if deps.qdrant is None:
        raise ConfigError(
            "configuration error: QDRANT_URL (or QDRANT_PATH for local mode) is required "
            "by dataset_transform"
        )
    delays = s.retry_delays()
    transforms, ingest = transforms_work(delays), ingest_work(delays)
    await declare_all(deps.bus.js, transforms, ingest, replicas=s.nats_stream_replicas)
    deps.declared()
    start_heartbeat(deps, stop)
    board = await StateBoard.open(deps.bus)
    uploads = await deps.bus.js.object_store(UPLOADS_OBJECT_STORE)
    embedder_settings = EmbedderSettings(
        timeout=s.embedder_timeout,
        max_retries=s.embedder_max_retries,
        retry_delay_ms=s.embedder_retry_delay_ms,
        requests_per_second=s.max_embedder_requests_per_second,
    )
    async with aiohttp.ClientSession() as session:
        embedders = EmbedderPool(session, embedder_settings, deps.env, profiles)
        transform_runner = JobRunner(
            deps.bus,
            transforms,
            TransformJob,
            TransformHandler(
                pool=deps.pool, qdrant=deps.qdrant, board=board, embedders=embedders,
                settings=s, max_deliver=transforms.max_deliver,
            ),
            concurrency=s.worker_concurrency,
            job_timeout=s.job_timeout,
            grace=s.shutdown_grace_seconds,
            redact=redact_transform_job,
        )  # fmt: skip
        ingest_runner = JobRunner(
            deps.bus,
            ingest,
            IngestJob,
            IngestHandler(
                pool=deps.pool,
                uploads=uploads,
                board=board,
                settings=s,
                max_deliver=ingest.max_deliver,
            ),
            concurrency=s.ingest_concurrency,
            grace=s.shutdown_grace_seconds,
        )
        queries = await serve_queries(deps.bus, deps.pool, uploads, embedders=embedders)
        evicting = (
            asyncio.create_task(_evict_unused(deps.pool, s.embedding_cache_ttl_days))
            if s.embedding_cache_ttl_days
            else None
        )
        m.WORKER_READY.labels(m.WORKER).set(1)
        try:
            await asyncio.gather(transform_runner.run(stop), ingest_runner.run(stop))
        finally:
            m.WORKER_READY.labels(m.WORKER).set(0)
            if evicting is not None:
                evicting.cancel()
            for sub in queries:
                await sub.unsubscribe()


async def _evict_unused(pool: asyncpg.Pool, days: int) -> None:
    """Evict cached vectors unread for ``days`` days: soon after start, then hourly."""
    await asyncio.sleep(_FIRST_EVICTION_SECONDS)
    while True:
        try:
            deleted = await cache.evict_unused(pool, days)
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            log.warning("embedding_cache_eviction_failed", error=str(exc))
        else:
            m.EMBEDDING_CACHE_EVICTED.inc(deleted)
            log.info("embedding_cache_evicted", deleted=deleted, unread_days=days)
        await asyncio.sleep(_EVICTION_SECONDS)


SERVICE = ServiceSpec(
    name="dataset_transform",
    settings_type=DatasetTransformSettings,
    main=main,
    schema="dataset_transform",
    migrations=MIGRATIONS,
)
