"""The pipeline SIGKILLed mid-request: another replica answers the same reply_to (issue 4).

The pipeline runs as real ``nb serve proxy_pipeline`` processes. The first one
takes the request and is killed while the (slow) primary LLM is still
answering; after ``PROXY_ACK_WAIT`` JetStream redelivers the request to a
second process, which answers the same inbox. Its replies are numbered from
``SEQ_STRIDE`` and open with a reset delta, so a client deduplicating on
``(request_id, seq)`` sees exactly one final answer.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import AsyncQdrantClient

from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import decode
from neuralbridge.core.subjects import proxy_request_subject
from neuralbridge.messages.proxy import (
    SEQ_STRIDE,
    ProxyAnswer,
    ProxyDelta,
    ProxyFailure,
    ProxyReply,
    ProxyRequest,
)
from tests.proxy_pipeline.conftest import GROUNDED, Gateway, seed_collection
from tests.support.fake_llm import FakeLLMServer
from tests.support.services import service_process
from tests.support.waiting import eventually

ACK_WAIT = 1.5
LLM_LATENCY = 3.0
#: Allowance for a fresh process's first query (lazy import of the local embedder).
EMBEDDER_COLD_START = 30.0
QUESTION = "Who founded Acme Rockets?"


async def _declared(bus: Bus) -> bool:
    try:
        await bus.js.consumer_info("PROXY_REQUESTS", "proxy-pipeline")
        await bus.js.key_value("proxy_sessions")
    except Exception:  # not declared yet
        return False
    return True


def _readies(log: Path) -> int:
    """How many pipeline processes logged that they are consuming."""
    return log.read_text(errors="replace").count("proxy_pipeline_ready")


async def _depth(bus: Bus, stream: str) -> int:
    try:
        info = await bus.js.stream_info(stream)
    except Exception:  # never declared: nothing in it
        return 0
    return int(info.state.messages)


@pytest.mark.slow
async def test_sigkill_mid_request_second_replica_answers_once(
    pipeline_env: dict[str, str],
    gateway: Gateway,
    primary: FakeLLMServer,
    fallback: FakeLLMServer,
    tmp_path: Path,
) -> None:
    """Kill -9 while the LLM answers: one deduplicated final answer, from attempt 2."""
    primary.latency = LLM_LATENCY
    env = {**pipeline_env, "PROXY_ACK_WAIT": str(ACK_WAIT), "LOG_LEVEL": "info"}
    qdrant = AsyncQdrantClient(path=env["QDRANT_PATH"])  # seeded before any process opens it
    try:
        await seed_collection(qdrant)
    finally:
        await qdrant.close()
    bus = gateway.bus
    log = tmp_path / "pipeline.log"

    inbox = bus.nc.new_inbox()
    replies: list[ProxyReply] = []
    finished = asyncio.Event()

    async def on_reply(msg: Any) -> None:
        reply: ProxyReply = decode(msg.data, ProxyReply)  # type: ignore[arg-type]
        replies.append(reply)
        if isinstance(reply, ProxyAnswer | ProxyFailure):
            finished.set()

    sub = await bus.nc.subscribe(inbox, cb=on_reply)
    request = ProxyRequest(
        request_id=str(uuid.uuid4()),
        session_id="s-crash",
        query=QUESTION,
        stream=True,
        reply_to=inbox,
        deadline=time.time() + 120,
    )
    try:
        with service_process("proxy_pipeline", env, log) as first:
            await eventually(lambda: _declared(bus), timeout=60)
            await bus.publish(proxy_request_subject(request.session_id), request)
            await eventually(lambda: len(primary.requests) >= 1, timeout=60)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        killed_at = time.monotonic()
        assert replies == [], "the first replica replied before it was killed"
        with service_process("proxy_pipeline", env, log) as second:
            await eventually(lambda: _readies(log) == 2, timeout=60)
            started_at = time.monotonic()
            # Once the second replica consumes, redelivery needs at most ack_wait (it
            # is usually already due); the answer then takes the LLM's latency, plus
            # the cold start of the query embedder, which a fresh process imports on
            # its first request (about 7 s here, over 15 s on a loaded 2-core CI machine).
            budget = ACK_WAIT + LLM_LATENCY + EMBEDDER_COLD_START
            try:
                await asyncio.wait_for(finished.wait(), budget)
            except TimeoutError:
                raise AssertionError(log.read_text()[-3000:]) from None
            answered_at = time.monotonic()
            await asyncio.sleep(0.5)  # any straggling duplicate would show up here
            consumer = await bus.js.consumer_info("PROXY_REQUESTS", "proxy-pipeline")
            assert second.poll() is None, log.read_text()[-3000:]
    finally:
        await sub.unsubscribe()

    unique: dict[tuple[str, int], ProxyReply] = {}
    for reply in replies:
        unique.setdefault((reply.request_id, reply.seq), reply)
    finals = [r for r in unique.values() if isinstance(r, ProxyAnswer | ProxyFailure)]
    assert len(finals) == 1, replies
    answer = finals[0]
    assert isinstance(answer, ProxyAnswer), answer
    assert answer.request_id == request.request_id
    assert answer.answer == GROUNDED
    assert not answer.fallback_used
    assert answer.sources
    assert answer.sources[0].document == "acme.md"
    # Every reply is from the second replica's attempt: a reset delta at a multiple of
    # SEQ_STRIDE opens it, the answer closes it. That attempt is usually delivery 2; on
    # a starved machine the first replica may have adopted a redelivery before the kill
    # (its heartbeat came late), and then the second replica's delivery is 3.
    first_reply = min(unique.values(), key=lambda r: r.seq)
    assert isinstance(first_reply, ProxyDelta)
    assert first_reply.reset
    attempt = first_reply.seq // SEQ_STRIDE + 1
    assert attempt >= 2
    assert first_reply.seq == (attempt - 1) * SEQ_STRIDE
    assert all(first_reply.seq <= r.seq < attempt * SEQ_STRIDE for r in unique.values())
    assert answer.seq == max(r.seq for r in unique.values())
    # One LLM call per replica (the first never ran the job twice), none to API B.
    assert len(primary.requests) == 2
    assert fallback.requests == []
    # Redelivered, acked, nothing dead-lettered.
    assert consumer.delivered is not None
    assert (consumer.delivered.stream_seq, consumer.delivered.consumer_seq) == (1, attempt)
    assert consumer.num_ack_pending == 0
    assert await _depth(bus, "DLQ_PROXY_REQUESTS") == 0
    print(
        f"second replica ready {started_at - killed_at:.1f}s after the kill, "
        f"answered {answered_at - started_at:.1f}s after that"
    )
