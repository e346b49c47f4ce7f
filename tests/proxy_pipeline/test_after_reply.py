"""Session turns and query logs after the answer: compare-and-set, group commit (issue 4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from nats.js.kv import KeyValue
from prometheus_client import REGISTRY

from neuralbridge.core.bus import Bus
from neuralbridge.core.db import create_pool, load_migrations, migrate
from neuralbridge.core.embedded.nats import EmbeddedNats
from neuralbridge.core.schemas import decode
from neuralbridge.core.subjects import PROXY_SESSIONS_KV, QUERY_LOGS_STREAM
from neuralbridge.messages.proxy import QueryLogged
from neuralbridge.proxy_pipeline.after_reply import AfterReply
from neuralbridge.proxy_pipeline.cache import CachedAnswer, ResponseCache
from neuralbridge.proxy_pipeline.main import SERVICE
from neuralbridge.proxy_pipeline.sessions import SessionStore, Turn
from neuralbridge.proxy_pipeline.topology import declare_all, requests_work


@pytest.fixture
async def own_bus(private_nats: EmbeddedNats) -> AsyncIterator[Bus]:
    bus = await Bus.connect(private_nats.url, name="after-reply-test")
    await declare_all(bus.js, requests_work(), session_ttl=600)
    yield bus
    await bus.close()


@pytest.fixture
async def cache(database_url: str) -> AsyncIterator[ResponseCache]:
    """The response cache on the pipeline's migrated schema (no one else's tables)."""
    pool = await create_pool(database_url, schema=SERVICE.schema)
    assert SERVICE.schema is not None
    assert SERVICE.migrations is not None
    await migrate(pool, SERVICE.schema, load_migrations(SERVICE.migrations))
    yield ResponseCache(pool, max_size=100, ttl=600.0)
    await pool.close()


@pytest.fixture
async def kv(own_bus: Bus) -> KeyValue:
    return await own_bus.js.key_value(PROXY_SESSIONS_KV)


def _turn(n: int) -> Turn:
    return Turn(request_id=f"r{n}", question=f"q{n}", answer=f"a{n}")


def _entry(n: int) -> tuple[str, CachedAnswer]:
    """Five keys, each written four times in a batch: the last answer must win."""
    answer = CachedAnswer(answer=f"a{n}", provider="openai", model="m", confidence=0.9)
    return f"k{n % 5}", answer


def _event(n: int, session: str) -> QueryLogged:
    return QueryLogged(
        request_id=f"r{n}", session_id=session, query=f"q{n}", answer=f"a{n}",
        provider="extractive", model="extractive", confidence=0.9, fallback_used=False,
        cached=False, latency_ms=1.0, logged_at=1.0,
    )  # fmt: skip


async def _questions(store: SessionStore, session: str) -> list[str]:
    return [msg.content for msg in await store.history(session) if msg.role == "user"]


async def test_two_replicas_appending_to_one_session_keep_every_turn(kv: KeyValue) -> None:
    """Compare-and-set: interleaved appends from two stores lose nothing, repeat nothing."""
    one = SessionStore(kv, max_turns=50)
    two = SessionStore(kv, max_turns=50)
    await one.append("s", _turn(0))
    await two.history("s")  # both now remember revision 1
    # Each store appends while remembering a revision the other has moved past.
    for n in range(1, 11):
        await (one if n % 2 else two).append("s", _turn(n))
    await asyncio.gather(*(s.append("s", _turn(n)) for n, s in ((11, one), (12, two))))
    await one.append("s", _turn(5))  # a redelivered request: already there
    questions = await _questions(SessionStore(kv, max_turns=50), "s")
    assert sorted(questions, key=lambda q: int(q[1:])) == [f"q{n}" for n in range(13)]
    assert len(questions) == 13


async def test_append_keeps_the_last_max_turns_in_order(kv: KeyValue) -> None:
    store = SessionStore(kv, max_turns=3)
    await store.append_turns("t", [_turn(n) for n in range(5)])
    await store.append("t", _turn(5))
    assert await _questions(SessionStore(kv, max_turns=3), "t") == ["q3", "q4", "q5"]


async def test_a_deleted_session_is_started_again(kv: KeyValue) -> None:
    """A remembered revision that no longer exists (expired or deleted) is re-read."""
    store = SessionStore(kv, max_turns=5)
    await store.append("d", _turn(1))
    key = next(iter(await kv.keys()))
    await kv.delete(key)
    await store.append("d", _turn(2))
    assert await _questions(SessionStore(kv, max_turns=5), "d") == ["q2"]


async def _logged(bus: Bus) -> list[QueryLogged]:
    info = await bus.js.stream_info(QUERY_LOGS_STREAM)
    events = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await bus.js.get_msg(QUERY_LOGS_STREAM, seq)
        assert msg.data is not None
        events.append(decode(msg.data, QueryLogged))
    return events


def _batches() -> tuple[float, float]:
    """Records and batches stored so far (the batch-size histogram's sum and count)."""
    name = "proxy_after_reply_batch_size"
    values = (REGISTRY.get_sample_value(f"{name}_{part}") for part in ("sum", "count"))
    records, batches = (v or 0.0 for v in values)
    return records, batches


async def test_concurrent_answers_are_stored_as_one_batch(
    own_bus: Bus, kv: KeyValue, cache: ResponseCache
) -> None:
    """Twenty records inside the linger: one batch, every turn, event and cache row stored."""
    after = AfterReply(own_bus, SessionStore(kv, max_turns=50), cache, linger=0.2)
    after.start()
    records_before, batches_before = _batches()
    try:
        await asyncio.gather(
            *(
                after.record("s1" if n % 2 else "s2", _turn(n), _event(n, "s"), _entry(n))
                for n in range(20)
            )
        )
    finally:
        await after.close()
    records, batches = _batches()
    assert (records - records_before, batches - batches_before) == (20, 1)
    assert sorted(e.request_id for e in await _logged(own_bus)) == sorted(
        f"r{n}" for n in range(20)
    )
    rows = await cache._pool.fetch("SELECT cache_key, answer->>'answer' AS a FROM response_cache")
    assert {r["cache_key"]: r["a"] for r in rows} == {
        f"k{n % 5}": f"a{15 + n % 5}" for n in range(5)
    }
    fresh = ResponseCache(cache._pool, max_size=10, ttl=600.0)  # nothing remembered
    assert (await fresh.get("k3")) == _entry(18)[1]
    store = SessionStore(kv, max_turns=50)
    assert await _questions(store, "s1") == [f"q{n}" for n in range(1, 20, 2)]
    assert await _questions(store, "s2") == [f"q{n}" for n in range(0, 20, 2)]


async def test_a_failed_batch_fails_every_request_in_it(
    own_bus: Bus, kv: KeyValue, cache: ResponseCache
) -> None:
    """No stream for the events: each waiter raises (and its request is retried)."""
    await own_bus.js.delete_stream(QUERY_LOGS_STREAM)
    after = AfterReply(own_bus, SessionStore(kv, max_turns=5), cache, linger=0.05)
    after.start()
    try:
        results = await asyncio.gather(
            *(after.record("f", _turn(n), _event(n, "f")) for n in range(3)),
            return_exceptions=True,
        )
    finally:
        await after.close()
    assert len(results) == 3
    assert all(isinstance(r, Exception) for r in results), results


async def test_records_after_close_are_stored_one_by_one(
    own_bus: Bus, kv: KeyValue, cache: ResponseCache
) -> None:
    after = AfterReply(own_bus, SessionStore(kv, max_turns=5), cache, linger=5.0)
    after.start()
    await after.close()
    await asyncio.wait_for(after.record("late", _turn(1), _event(1, "late")), 5)
    assert [e.request_id for e in await _logged(own_bus)] == ["r1"]


async def test_a_follow_up_sees_pending_turns_without_cutting_the_batch_short(
    own_bus: Bus, kv: KeyValue, cache: ResponseCache
) -> None:
    """The previous answer is in the history at once; the batch still lingers."""
    store = SessionStore(kv, max_turns=5)
    after = AfterReply(own_bus, store, cache, linger=30.0)
    after.start()
    try:
        recorded = asyncio.create_task(after.record("chat", _turn(1), _event(1, "chat")))
        await asyncio.sleep(0)  # in the open batch now
        pending = after.pending_turns("chat")
        assert [t.request_id for t in pending] == ["r1"]
        assert after.pending_turns("other") == []
        assert await _questions(store, "chat") == []  # not stored: the batch lingers
        messages = await store.history("chat", pending)
        assert [m.content for m in messages] == ["q1", "a1"]
        assert not recorded.done()
    finally:
        await after.close()
    await asyncio.wait_for(recorded, 5)
    assert after.pending_turns("chat") == []
    stored = await SessionStore(kv, max_turns=5).history("chat", pending)
    assert [m.content for m in stored] == ["q1", "a1"]  # stored and pending: once


async def test_a_cache_row_that_cannot_be_written_fails_nothing(
    own_bus: Bus, kv: KeyValue, cache: ResponseCache
) -> None:
    """The cache is an optimisation: turn and event are stored, the answer stays in memory."""
    await cache._pool.execute("DROP TABLE response_cache")
    after = AfterReply(own_bus, SessionStore(kv, max_turns=5), cache, linger=0.05)
    after.start()
    try:
        cache.remember(*_entry(1))
        await asyncio.wait_for(after.record("c", _turn(1), _event(1, "c"), _entry(1)), 5)
    finally:
        await after.close()
    assert [e.request_id for e in await _logged(own_bus)] == ["r1"]
    assert await _questions(SessionStore(kv, max_turns=5), "c") == ["q1"]
    assert cache.get_remembered("k1") == _entry(1)[1]
