"""The cache_cleanup job, end to end: the real trainer asks real proxy-pipeline responders.

The responders are the pipeline's own :func:`serve_cleanup` on their own NATS
connections, over a :class:`ResponseCache` on the pipeline's migrated schema
(two of them play two pipeline instances); one test runs the pipeline's real
composition root instead. Persistent expiry is PostgreSQL's ``now()``; the
memory layer's clock is moved by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from neuralbridge.core.bus import Bus
from neuralbridge.core.db import create_pool, load_migrations, migrate
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.proxy_pipeline.cache import CachedAnswer, MemoryPurge, ResponseCache
from neuralbridge.proxy_pipeline.cleanup import serve_cleanup
from neuralbridge.proxy_pipeline.main import MIGRATIONS as PROXY_MIGRATIONS
from tests.proxy_pipeline.conftest import COLLECTION, running_pipeline
from tests.trainer.helpers import enqueue, job_request, wait_run

JOB = "cache_cleanup"
PROXY_SCHEMA = "proxy_pipeline"
#: Every job run in these tests gets two seconds to hear from every instance.
WINDOW = {"CACHE_CLEANUP_BROADCAST_WINDOW_SECONDS": "2", "CACHE_CLEANUP_TIMEOUT_SECONDS": "10"}
#: ``{"answer":"<text>","sources":[],"provider":"openai","model":"m","confidence":0.5,
#: "fallback_used":false,"fallback_reason":null,"output_findings":[]}`` is 141 bytes + the text.
ENTRY_OVERHEAD = 141


class MonotonicClock:
    """The memory layer's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(text: str) -> CachedAnswer:
    """A cached answer whose JSON is ``ENTRY_OVERHEAD + len(text)`` bytes."""
    return CachedAnswer(answer=text, provider="openai", model="m", confidence=0.5)


@pytest.fixture
async def proxy_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the pipeline's schema, its migrations applied."""
    pool = await create_pool(database_url, schema=PROXY_SCHEMA, max_size=4)
    await migrate(pool, PROXY_SCHEMA, load_migrations(PROXY_MIGRATIONS))
    yield pool
    await pool.close()


@asynccontextmanager
async def instance(
    nats: EmbeddedNats, pool: asyncpg.Pool, name: str, clock: MonotonicClock
) -> AsyncIterator[ResponseCache]:
    """One pipeline instance's cache and cleanup responder, on its own connection."""
    bus = await Bus.connect(nats.url, name=name)
    cache = ResponseCache(pool, max_size=100, ttl=3600.0, clock=clock)
    subs = await serve_cleanup(bus, cache, instance=name)
    try:
        yield cache
    finally:
        for sub in subs:
            await sub.unsubscribe()
        await bus.close()


async def insert_row(pool: asyncpg.Pool, key: str, text: str, *, expired: bool) -> None:
    """A row holding ``{"answer": "<text>"}`` (``len(text) + 14`` bytes of JSON text)."""
    await pool.execute(
        "INSERT INTO response_cache (cache_key, answer, expires_at) VALUES ($1, $2::jsonb,"
        " now() + CASE WHEN $3 THEN interval '-1 minute' ELSE interval '1 hour' END)",
        key, f'{{"answer": "{text}"}}', expired,
    )  # fmt: skip


def metric(name: str, **labels: str) -> float:
    """A sample of the process-wide registry (0 when absent)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_cleanup_deletes_expired_rows_and_purges_every_instance(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    trainer_nats: EmbeddedNats, proxy_pool: asyncpg.Pool,
) -> None:  # fmt: skip
    """3 expired rows (102 bytes) deleted once; A purges 2 of 3 entries, B its only one."""
    for key, size in (("old-1", 10), ("old-2", 20), ("old-3", 30)):
        await insert_row(proxy_pool, key, "x" * size, expired=True)  # 24 + 34 + 44 bytes
    await insert_row(proxy_pool, "live-1", "y" * 50, expired=False)
    clock = MonotonicClock()
    entries_before = metric("trainer_cache_cleanup_entries_total", layer="persistent")
    bytes_before = metric("trainer_cache_cleanup_bytes_total", layer="memory")
    async with (
        trainer(**WINDOW),
        instance(trainer_nats, proxy_pool, "proxy-a", clock) as a,
        instance(trainer_nats, proxy_pool, "proxy-b", clock) as b,
    ):
        await a.put("a1", answer("a" * 9))  # expires at 4600
        await a.put("a2", answer("a" * 19))  # expires at 4600
        await b.put("b1", answer("b" * 59))  # expires at 4600
        clock.now = 4000.0
        await a.put("a3", answer("a" * 29))  # expires at 7600
        clock.now = 5000.0
        row = await wait_run(db, await enqueue(client_bus, job_request(JOB)))
        again_a, again_b = a.purge_memory(), b.purge_memory()
    assert row["status"] == "completed", row["error_message"]
    results = row["results"]
    assert results["entries_deleted"] == 3
    assert results["bytes_freed"] == 102
    assert results["persistent_instance"] in {"proxy-a", "proxy-b"}
    assert results["instances"] == 2
    assert results["entries_purged"] == 3
    size_a = 3 * ENTRY_OVERHEAD + 9 + 19 + 29  # 480
    assert results["instance_reports"] == [
        {"instance": "proxy-a", "entries_purged": 2, "size_before": size_a,
         "size_after": ENTRY_OVERHEAD + 29, "memory_freed": 2 * ENTRY_OVERHEAD + 28},
        {"instance": "proxy-b", "entries_purged": 1, "size_before": ENTRY_OVERHEAD + 59,
         "size_after": 0, "memory_freed": ENTRY_OVERHEAD + 59},
    ]  # fmt: skip
    assert (results["size_before"], results["size_after"]) == (680, 170)
    assert results["memory_freed"] == 510  # the seed's size_before - size_after
    assert results["duration_ms"] >= 0
    keys = {r["cache_key"] for r in await proxy_pool.fetch("SELECT cache_key FROM response_cache")}
    assert keys == {"live-1", "a1", "a2", "a3", "b1"}  # put() rows live for an hour of real time
    assert again_a == MemoryPurge(entries_purged=0, size_before=170, size_after=170)
    assert again_b == MemoryPurge(entries_purged=0, size_before=0, size_after=0)
    assert metric("trainer_cache_cleanup_entries_total", layer="persistent") - entries_before == 3
    assert metric("trainer_cache_cleanup_bytes_total", layer="memory") - bytes_before == 510
    assert metric("trainer_job_last_completed_timestamp_seconds", job=JOB) > 0  # the alert's


async def test_no_pipeline_fails_with_reason_and_retries_until_one_answers(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    trainer_nats: EmbeddedNats, proxy_pool: asyncpg.Pool,
) -> None:  # fmt: skip
    """No subscriber → attempt 1 fails with the reason; the retry finds a pipeline and deletes."""
    await insert_row(proxy_pool, "old-1", "x" * 6, expired=True)
    async with trainer(CLEANUP_RETRY_SECONDS="2", **WINDOW):
        run_id = await enqueue(client_bus, job_request(JOB))
        failed = await wait_run(db, run_id, statuses=("pending",))
        async with instance(trainer_nats, proxy_pool, "proxy-late", MonotonicClock()):
            row = await wait_run(db, run_id)
    assert failed["error_message"] == (
        "no proxy-pipeline instance is subscribed to proxy.cache.cleanup: expired persistent "
        "cache entries were not deleted (is the proxy pipeline running?)"
    )
    assert (row["status"], row["attempt"]) == ("completed", 2), row["error_message"]
    assert (row["results"]["entries_deleted"], row["results"]["bytes_freed"]) == (1, 20)
    assert row["results"]["instances"] == 1
    assert await proxy_pool.fetchval("SELECT count(*) FROM response_cache") == 0


async def test_database_error_on_the_pipeline_fails_the_run_with_its_reason(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    trainer_nats: EmbeddedNats, database_url: str,
) -> None:  # fmt: skip
    """A pipeline whose schema lacks the cache table answers the error; the run is retried."""
    pool = await create_pool(database_url, schema="not_migrated", max_size=2)
    try:
        async with (
            trainer(**WINDOW),
            instance(trainer_nats, pool, "proxy-broken", MonotonicClock()),
        ):
            row = await wait_run(db, await enqueue(client_bus, job_request(JOB)), ("pending",))
    finally:
        await pool.close()
    assert row["error_message"].startswith(
        "proxy-pipeline instance proxy-broken could not delete expired persistent cache entries: "
        'UndefinedTableError: relation "response_cache" does not exist'
    )


async def test_real_pipeline_service_answers_the_cleanup(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    trainer_env: dict[str, str], tmp_path: Path,
) -> None:  # fmt: skip
    """The proxy pipeline's own main subscribes: its expired rows go, the live one stays."""
    database_url = trainer_env["DATABASE_URL"]
    env = {
        "NATS_URL": trainer_env["NATS_URL"], "DATABASE_URL": database_url,
        "QDRANT_PATH": str(tmp_path / "qdrant"), "LLM_PROVIDER": "extractive",
        "RAG_COLLECTION": COLLECTION, "LOG_LEVEL": "warning", "SHUTDOWN_GRACE_SECONDS": "5",
    }  # fmt: skip
    async with trainer(**WINDOW), running_pipeline(env):
        pool = await create_pool(database_url, schema=PROXY_SCHEMA, max_size=2)
        try:
            await insert_row(pool, "old-1", "x" * 1, expired=True)  # 15 bytes
            await insert_row(pool, "old-2", "x" * 2, expired=True)  # 16 bytes
            await insert_row(pool, "live-1", "y", expired=False)
            row = await wait_run(db, await enqueue(client_bus, job_request(JOB)))
            left = [
                r["cache_key"] for r in await pool.fetch("SELECT cache_key FROM response_cache")
            ]
        finally:
            await pool.close()
    assert row["status"] == "completed", row["error_message"]
    results = row["results"]
    assert (results["entries_deleted"], results["bytes_freed"]) == (2, 31)
    assert (results["instances"], results["entries_purged"], results["memory_freed"]) == (1, 0, 0)
    assert left == ["live-1"]
