"""A poisoned event (finding M2): one the database refuses goes to its DLQ once.

A query log holding a NUL character was naked and redelivered every 5 s forever,
across restarts, never reaching a DLQ. Now it is dead-lettered on its first
delivery and the events around it are stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from neuralbridge.core.bus import Bus
from neuralbridge.core.subjects import QUERY_LOGS_STREAM, query_log_subject
from neuralbridge.messages.proxy import QueryLogged
from neuralbridge.trainer.topology import declare_all
from tests.support.waiting import eventually
from tests.trainer.helpers import NOW, request_id


async def test_event_postgres_refuses_goes_to_dlq_once_and_others_are_stored(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """A query log holding a NUL character is dead-lettered at once, never retried forever."""
    await declare_all(client_bus.js)
    good, bad = request_id(), request_id()
    for rid, session in ((good, "plain"), (bad, "nul\x00byte")):
        event = QueryLogged(
            request_id=rid, session_id=session, query="q", answer="a", provider="openai",
            model="m", confidence=0.5, fallback_used=False, fallback_reason=None, cached=False,
            latency_ms=1.0, logged_at=NOW.timestamp(),
        )  # fmt: skip
        await client_bus.publish(query_log_subject(rid), event)
    async with trainer():

        async def dead_lettered() -> bool:
            info = await client_bus.js.stream_info(f"DLQ_{QUERY_LOGS_STREAM}")
            return info.state.messages == 1

        await eventually(dead_lettered, timeout=20)
        consumer = await client_bus.js.consumer_info(QUERY_LOGS_STREAM, "trainer-query-logs")
    letter = await client_bus.js.get_msg(f"DLQ_{QUERY_LOGS_STREAM}", 1)
    assert consumer.num_ack_pending == 0  # terminated, not waiting for a retry
    assert letter.headers is not None
    assert letter.headers["X-Dlq-Error-Class"] == "PayloadError"
    assert letter.headers["X-Dlq-Original-Subject"] == query_log_subject(bad)
    assert bad in letter.data.decode()  # the body byte for byte: replayable
    stored = {r["request_id"] for r in await db.fetch("SELECT request_id FROM query_logs")}
    assert good in stored
    assert bad not in stored
