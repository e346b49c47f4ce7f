"""Query-log ingestion in batches: stored once, extras kept, bad bodies terminated (issue 4)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from prometheus_client import REGISTRY

from neuralbridge.core.bus import Bus
from neuralbridge.core.subjects import QUERY_LOGS_STREAM, query_log_subject
from neuralbridge.messages.proxy import QueryLogged, SourceRef
from neuralbridge.trainer.topology import declare_all
from tests.support.waiting import eventually
from tests.trainer.helpers import NOW, request_id


def _ingested(outcome: str) -> float:
    labels = {"stream": QUERY_LOGS_STREAM, "outcome": outcome}
    return REGISTRY.get_sample_value("trainer_events_ingested_total", labels) or 0.0


async def _published(bus: Bus) -> list[str]:
    """Publish 30 query logs, a repeat of one of them and a body that is not JSON."""
    ids = [request_id() for _ in range(30)]
    for n, rid in enumerate(ids):
        event = QueryLogged(
            request_id=rid, session_id=f"s{n % 3}", query=f"q{n}", answer=f"a{n}",
            provider="openai", model="m", confidence=0.8, fallback_used=n == 1,
            fallback_reason="low_confidence" if n == 1 else None, cached=n == 2,
            latency_ms=10.0 + n, logged_at=NOW.timestamp() if n else 0.0,
            experiment="exp-1" if n == 3 else None, variant="B" if n == 3 else None,
            sources=[SourceRef(document="acme.md", chunk_index=2, score=0.75, text="t",
                               collection="kb", point_id="p-1")] if n == 4 else [],
        )  # fmt: skip
        await bus.publish(query_log_subject(rid), event)
        if n == 5:
            await bus.publish(query_log_subject(rid), event)  # a second copy in the stream
    await bus.js.publish(query_log_subject("broken"), b"{not json")
    return ids


async def test_query_logs_arrive_in_a_batch_and_are_stored_once(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    before = {o: _ingested(o) for o in ("stored", "duplicate", "rejected")}
    await declare_all(client_bus.js)
    ids = await _published(client_bus)  # before the trainer runs: it finds them all at once
    async with trainer():

        async def drained() -> bool:
            info = await client_bus.js.consumer_info(QUERY_LOGS_STREAM, "trainer-query-logs")
            return info.num_pending == 0 and info.num_ack_pending == 0

        await eventually(drained, timeout=20)
    rows = {r["request_id"]: r for r in await db.fetch("SELECT * FROM query_logs")}
    assert set(ids) <= set(rows)
    after = {o: _ingested(o) - before[o] for o in before}
    assert after == {"stored": 30, "duplicate": 1, "rejected": 1}
    first, fallback, cached, ab, cited = (rows[ids[n]] for n in range(5))
    assert abs(first["logged_at"] - datetime.now(UTC)) < timedelta(minutes=1)  # on arrival
    assert rows[ids[7]]["logged_at"] == NOW
    assert (fallback["fallback_used"], fallback["fallback_reason"]) == (True, "low_confidence")
    assert (cached["cached"], first["cached"]) == (True, False)
    assert (ab["experiment_id"], ab["variant"]) == ("exp-1", "B")
    assert (first["experiment_id"], first["variant"]) == (None, None)
    sources = (
        json.loads(cited["sources"]) if isinstance(cited["sources"], str) else cited["sources"]
    )
    assert sources == [{"collection": "kb", "point_id": "p-1", "document": "acme.md",
                        "chunk_index": 2, "score": 0.75}]  # fmt: skip
    assert rows[ids[9]]["latency_ms"] == 19.0
    assert rows[ids[9]]["session_id"] == "s0"
