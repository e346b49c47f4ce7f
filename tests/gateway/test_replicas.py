"""With no proxy-pipeline replica alive, the gateway answers 503 at once."""

from __future__ import annotations

import time
from typing import Any

import httpx

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.schemas import encode
from neuralbridge.gateway.replicas import PipelineReplicas
from neuralbridge.messages.monitoring import HEARTBEATS_KV, Heartbeat
from tests.gateway.conftest import gateway_defaults, running_gateway
from tests.proxy_pipeline.conftest import running_pipeline
from tests.support.waiting import eventually

QUERY = {"query": "Who founded Acme Rockets?", "session_id": "s1"}


def _beat(replica: str, sent_at: float) -> bytes:
    return encode(
        Heartbeat(service="proxy_pipeline", replica=replica, started_at=sent_at,
                  sent_at=sent_at, version="0", ready=True)
    )  # fmt: skip


async def test_replicas_alive_follows_beats_and_their_age(private_nats: EmbeddedNats) -> None:
    """A beat keeps the pipeline alive for the TTL; a deleted key counts at once."""
    now = [1000.0]
    bus = await Bus.connect(private_nats.url, name="replicas-test")
    replicas = PipelineReplicas(ttl=15.0, clock=lambda: now[0])
    try:
        assert replicas.alive()  # not following yet: nothing is refused
        await replicas.start(bus)
        kv = await bus.js.key_value(HEARTBEATS_KV)
        now[0] += 16.0
        assert not replicas.alive()  # the gateway's own start is older than the TTL
        await kv.put("proxy_pipeline.r1", _beat("r1", now[0]))
        await eventually(replicas.alive, timeout=5)
        now[0] += 16.0
        assert not replicas.alive()
        await kv.put("proxy_pipeline.r1", _beat("r1", now[0]))
        await kv.put("gateway.g1", _beat("g1", now[0] + 100))  # another service's beat
        await eventually(replicas.alive, timeout=5)
        await kv.delete("proxy_pipeline.r1")
        await eventually(lambda: not replicas.alive(), timeout=5)
    finally:
        await replicas.stop()
        await bus.close()


async def test_gateway_answers_503_at_once_when_pipeline_stopped(
    pipeline_env: dict[str, str],
) -> None:
    """After the only pipeline replica stops (its heartbeat deleted), a query is 503 at once."""
    env = {**gateway_defaults(pipeline_env), "GATEWAY_REQUEST_TIMEOUT": "5"}
    async with running_gateway(env) as url, httpx.AsyncClient(timeout=60) as http:
        async with running_pipeline(env):

            async def answered() -> bool:
                resp = await http.post(f"{url}/api/proxy/query", json=QUERY)
                return resp.status_code == 200

            await eventually(answered, timeout=20)
        started = time.monotonic()
        resp: Any = None

        async def refused() -> bool:
            nonlocal resp
            resp = await http.post(f"{url}/api/proxy/query", json=QUERY)
            return resp.status_code == 503

        await eventually(refused, timeout=10)
    assert resp.json()["error"]["code"] == "no_pipeline_replica"
    assert time.monotonic() - started < 10  # never the 60 s deadline
