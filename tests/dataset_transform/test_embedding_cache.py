"""The embedding cache's eviction: vectors unread for EMBEDDING_CACHE_TTL_DAYS go.

On the worker's migrated schema in this test's own database; ages are set by
moving ``last_used_at`` back, and PostgreSQL's ``now()`` decides.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from neuralbridge.core.db import create_pool, load_migrations, migrate
from neuralbridge.core.errors import ConfigError
from neuralbridge.core.settings import load_settings
from neuralbridge.dataset_transform import DatasetTransformSettings
from neuralbridge.dataset_transform.cache import cached_vectors, evict_unused, store_vectors
from neuralbridge.dataset_transform.main import MIGRATIONS

SCHEMA = "dataset_transform"
ME = "document:test-embedder"


@pytest.fixture
async def worker_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the worker's schema, its migrations applied."""
    pool = await create_pool(database_url, schema=SCHEMA, max_size=4)
    await migrate(pool, SCHEMA, load_migrations(MIGRATIONS))
    yield pool
    await pool.close()


async def age(pool: asyncpg.Pool, sha: str, **ago: float) -> None:
    """Pretend ``sha`` was last read ``timedelta(**ago)`` ago."""
    await pool.execute(
        "UPDATE embedding_cache SET last_used_at = now() - $2::interval WHERE text_sha256 = $1",
        sha,
        timedelta(**ago),
    )


async def last_used(pool: asyncpg.Pool, sha: str) -> object:
    return await pool.fetchval(
        "SELECT last_used_at FROM embedding_cache WHERE text_sha256 = $1", sha
    )


async def shas(pool: asyncpg.Pool) -> set[str]:
    return {r["text_sha256"] for r in await pool.fetch("SELECT text_sha256 FROM embedding_cache")}


async def test_unread_vectors_are_evicted_and_recent_ones_kept(worker_pool: asyncpg.Pool) -> None:
    """Rows unread for longer than the TTL go, in batches; the count is returned."""
    vectors = {f"s{i}": [float(i), 0.5] for i in range(7)}
    async with worker_pool.acquire() as conn:
        await store_vectors(conn, ME, vectors)
    for sha in ("s0", "s1", "s2", "s3", "s4"):
        await age(worker_pool, sha, days=31)
    await age(worker_pool, "s5", days=29)

    assert await evict_unused(worker_pool, 30, batch=2) == 5
    assert await shas(worker_pool) == {"s5", "s6"}
    assert await evict_unused(worker_pool, 30) == 0


async def test_a_read_marks_a_row_used_at_most_once_a_day(worker_pool: asyncpg.Pool) -> None:
    """An old row read again survives eviction; a row read today is not written again."""
    async with worker_pool.acquire() as conn:
        await store_vectors(conn, ME, {"old": [1.0, 2.0], "fresh": [3.0, 4.0]})
    await age(worker_pool, "old", days=40)
    await age(worker_pool, "fresh", hours=2)
    fresh_before = await last_used(worker_pool, "fresh")

    async with worker_pool.acquire() as conn:
        found = await cached_vectors(conn, ME, ["old", "fresh", "unknown"])

    assert found == {"old": [1.0, 2.0], "fresh": [3.0, 4.0]}
    assert await last_used(worker_pool, "fresh") == fresh_before
    assert await evict_unused(worker_pool, 30) == 0
    assert await shas(worker_pool) == {"old", "fresh"}


async def test_another_embedders_read_does_not_mark_this_ones_rows(
    worker_pool: asyncpg.Pool,
) -> None:
    """Marks are per (embedder, text): the same text under another embedder stays stale."""
    async with worker_pool.acquire() as conn:
        await store_vectors(conn, ME, {"same": [1.0]})
        await store_vectors(conn, "document:other", {"same": [2.0]})
    await worker_pool.execute(
        "UPDATE embedding_cache SET last_used_at = now() - interval '40 days'"
    )
    async with worker_pool.acquire() as conn:
        assert await cached_vectors(conn, "document:other", ["same"]) == {"same": [2.0]}
    assert await evict_unused(worker_pool, 30) == 1
    rows = await worker_pool.fetch("SELECT embedder_identity FROM embedding_cache")
    assert [r["embedder_identity"] for r in rows] == ["document:other"]


def test_negative_ttl_stops_the_worker_with_one_line() -> None:
    """EMBEDDING_CACHE_TTL_DAYS must be 0 (keep forever) or more."""
    with pytest.raises(ConfigError, match="EMBEDDING_CACHE_TTL_DAYS"):
        load_settings(DatasetTransformSettings, {"EMBEDDING_CACHE_TTL_DAYS": "-1"})
