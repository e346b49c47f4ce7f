"""The filter of known cache keys: a certain miss skips PostgreSQL, nothing cached is missed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from neuralbridge.core.db import create_pool, load_migrations, migrate
from neuralbridge.proxy_pipeline import keyfilter, store
from neuralbridge.proxy_pipeline.cache import CachedAnswer, ResponseCache
from neuralbridge.proxy_pipeline.keyfilter import KeyFilter, KnownKeys
from neuralbridge.proxy_pipeline.main import SERVICE

ANSWER = CachedAnswer(answer="Paris.", provider="openai", model="m", confidence=0.9)


class Clock:
    """Monotonic seconds moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the pipeline's migrated schema."""
    assert SERVICE.schema is not None
    assert SERVICE.migrations is not None
    pool = await create_pool(database_url, schema=SERVICE.schema)
    await migrate(pool, SERVICE.schema, load_migrations(SERVICE.migrations))
    yield pool
    await pool.close()


def keys(count: int) -> list[str]:
    return [uuid.uuid4().hex for _ in range(count)]


async def write(pool: asyncpg.Pool, entries: list[str], ttl: float = 600.0) -> None:
    """Rows as another replica writes them (not through this replica's filter)."""
    async with pool.acquire() as conn:
        await store.put_entries(conn, dict.fromkeys(entries, b'{"answer": "x"}'), ttl)


def skipped() -> float:
    value = REGISTRY.get_sample_value(
        "proxy_cache_lookups_total", {"layer": "postgres", "result": "skipped"}
    )
    return value or 0.0


def test_filter_has_every_key_added_and_few_false_positives() -> None:
    """No false negatives; at capacity about 1% false positives."""
    bloom = KeyFilter(capacity=5000)
    added = keys(5000)
    for key in added:
        bloom.add(key)
    assert all(key in bloom for key in added)
    false_positives = sum(key in bloom for key in keys(20_000))
    assert false_positives / 20_000 < 0.02
    assert not bloom.overfull
    bloom.add("one more")
    assert bloom.overfull


async def test_untrusted_before_the_first_build(pool: asyncpg.Pool) -> None:
    """Until built, every key may have a row (every miss asks PostgreSQL)."""
    known = KnownKeys(pool, min_capacity=100)
    assert not known.trusted
    assert known.may_have("anything")


async def test_build_reads_live_rows_only(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live rows (more than one page of them) are known; expired rows and others are not."""
    live, expired = keys(25), keys(5)
    await write(pool, live)
    await write(pool, expired, ttl=0.001)
    await asyncio.sleep(0.01)
    known = KnownKeys(pool, min_capacity=100)
    monkeypatch.setattr(keyfilter, "PAGE", 10)  # three pages
    await known.refresh()
    assert known.trusted
    assert all(known.may_have(key) for key in live)
    ruled_out = sum(not known.may_have(key) for key in [*expired, *keys(200)])
    assert ruled_out >= 200  # at most a false positive or five


async def test_other_replicas_rows_are_known_after_the_next_refresh(pool: asyncpg.Pool) -> None:
    """Rows written after the build are read by the next refresh, not before."""
    known = KnownKeys(pool, min_capacity=100)
    await known.refresh()
    later = keys(3)
    await write(pool, later)
    assert not any(known.may_have(key) for key in later)
    await known.refresh()
    assert all(known.may_have(key) for key in later)


async def test_keys_added_during_a_build_are_kept(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key this replica adds while the filter is being built is in the built filter."""
    known = KnownKeys(pool, min_capacity=100)
    reads = store.live_keys

    async def live_keys_then_add(conn: Any, *, after: str, limit: int) -> list[str]:
        known.add(["added-mid-build"])
        return await reads(conn, after=after, limit=limit)

    monkeypatch.setattr(store, "live_keys", live_keys_then_add)
    await known.refresh()
    assert known.may_have("added-mid-build")


async def test_stale_filter_is_not_trusted(pool: asyncpg.Pool) -> None:
    """Without a successful refresh for ``stale_after`` seconds, every key may have a row."""
    clock = Clock()
    known = KnownKeys(pool, min_capacity=100, stale_after=30, clock=clock)
    await known.refresh()
    assert not known.may_have("never written")
    clock.now += 31
    assert not known.trusted
    assert known.may_have("never written")


async def test_rebuild_forgets_expired_keys(pool: asyncpg.Pool) -> None:
    """The periodic build drops keys whose rows expired (a Bloom filter cannot delete)."""
    clock = Clock()
    known = KnownKeys(pool, min_capacity=100, rebuild_every=600, clock=clock)
    short = keys(1)
    await write(pool, short, ttl=0.3)
    await known.refresh()
    assert known.may_have(short[0])
    await asyncio.sleep(0.4)
    clock.now += 10
    await known.refresh()  # incremental: still there
    assert known.may_have(short[0])
    clock.now += 600
    await known.refresh()  # rebuilt
    assert not known.may_have(short[0])


async def test_cache_skips_postgres_for_a_ruled_out_key(pool: asyncpg.Pool) -> None:
    """A miss the filter rules out is a miss without a lookup; a known key is still found."""
    known = KnownKeys(pool, min_capacity=100)
    cache = ResponseCache(pool, max_size=10, ttl=600.0, known=known)
    other = ResponseCache(pool, max_size=10, ttl=600.0)  # another replica
    await other.persist([("k-other", ANSWER)])
    await known.refresh()
    before = skipped()
    assert await cache.get_persisted("k-never") is None
    assert skipped() == before + 1
    found = await cache.get_persisted("k-other")
    assert found is not None
    assert found.answer == "Paris."
    await cache.persist([("k-own", ANSWER)])  # this replica's row: known at once
    assert known.may_have("k-own")
    assert (await ResponseCache(pool, max_size=10, ttl=600.0).get_persisted("k-own")) is not None


async def test_failed_refresh_raises_and_the_filter_goes_stale(database_url: str) -> None:
    """PostgreSQL gone: refresh raises; after ``stale_after`` the filter is not trusted."""
    clock = Clock()
    assert SERVICE.schema is not None
    assert SERVICE.migrations is not None
    pool = await create_pool(database_url, schema=SERVICE.schema)
    await migrate(pool, SERVICE.schema, load_migrations(SERVICE.migrations))
    known = KnownKeys(pool, min_capacity=100, stale_after=30, clock=clock)
    await known.refresh()
    await pool.close()
    clock.now += 5
    with pytest.raises(asyncpg.InterfaceError):
        await known.refresh()
    assert known.trusted  # still within stale_after
    clock.now += 30
    assert known.may_have("never written")
