"""The gateway's NATS connection comes back after the server closes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import nats.errors
import pytest

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import free_port
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.service import open_deps
from neuralbridge.core.settings import load_settings
from neuralbridge.gateway import SERVICE, GatewaySettings
from tests.gateway.conftest import gateway_defaults
from tests.proxy_pipeline.conftest import running_pipeline
from tests.support.waiting import eventually

LONG_ID = "u" * 5000  # over nats-server's 4 KiB control line once in a subject
QUERY = {"query": "Who founded Acme Rockets?", "session_id": "s1"}


@asynccontextmanager
async def gateway_with_bus(env: dict[str, str]) -> AsyncIterator[tuple[str, Bus]]:
    """The gateway's real main on a free port; yields its URL and its bus."""
    port = free_port()
    env = {**gateway_defaults(env), "GATEWAY_PORT": str(port), "BIND_HOST": "127.0.0.1"}
    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        health = HealthServer("127.0.0.1", 0)
        settings = load_settings(GatewaySettings, env)
        deps = await open_deps(SERVICE, settings, health, stack, env=env)
        health.mark_started()
        task = asyncio.create_task(SERVICE.main(deps, stop))
        url = f"http://127.0.0.1:{port}"
        try:
            await eventually(lambda: _answers(f"{url}/readyz", task), timeout=20)
            yield url, deps.bus
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)


async def _answers(url: str, task: asyncio.Task[None] | None = None) -> bool:
    if task is not None and task.done():
        task.result()  # the gateway crashed: show why
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(url)).status_code == 200
    except httpx.TransportError:
        return False


async def test_server_closes_gateway_connection_ready_and_answering_again(
    pipeline_env: dict[str, str],
) -> None:
    """A 5,000-char id and a server-closed connection: /readyz is 200 and a query answered."""
    async with (
        running_pipeline(pipeline_env),
        gateway_with_bus(pipeline_env) as (url, bus),
        httpx.AsyncClient(base_url=url, timeout=15) as http,
    ):
        long_id = await http.get(f"/api/uploads/{LONG_ID}")
        assert long_id.status_code < 600  # whatever it answers, the gateway must recover
        with pytest.raises((nats.errors.Error, TimeoutError)):
            await bus.nc.request(f"gateway.probe.{LONG_ID}", b"", timeout=1)
        await eventually(lambda: _answers(f"{url}/readyz"), timeout=10)
        answer = await http.post("/api/proxy/query", json=QUERY)
    assert answer.status_code == 200, answer.text
    assert answer.json()["answer"]
