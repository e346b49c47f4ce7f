"""The gateway under test: its real composition root, in-process, next to the real pipeline.

Each test gets its own nats-server and PostgreSQL database, and the proxy
pipeline's fixtures (``tests/proxy_pipeline/conftest.py``: a seeded Qdrant
local-mode collection, fake OpenAI primary and Ollama API B). ``serve(**env)``
runs the gateway (and, with ``pipeline=True``, the pipeline) and yields its
base URL; ``None`` in ``env`` unsets a variable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest

from neuralbridge.core.embedded import free_port
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.service import open_deps
from neuralbridge.core.settings import load_settings
from neuralbridge.gateway import SERVICE, GatewaySettings
from tests.proxy_pipeline.conftest import (
    fallback,
    pipeline,
    pipeline_env,
    pipeline_nats,
    primary,
    running_pipeline,
)

__all__ = [
    "fallback",
    "pipeline",
    "pipeline_env",
    "pipeline_nats",
    "primary",
]

SEED_BODY = b"""{
    "query": "Explique machine learning",
    "session_id": "minha_sessao_123"
  }"""
SEED_BODY_OVERRIDE = b"""{
    "query": "Explique machine learning",
    "session_id": "minha_sessao_123",
    "provider": "openai",
    "model": "gpt-4"
  }"""


#: The variables that turn API keys on.
KEY_VARIABLES = (
    "GATEWAY_API_KEY_HASHES",
    "GATEWAY_API_KEYS_FILE",
    "GATEWAY_ADMIN_KEY_HASHES",
    "GATEWAY_ADMIN_KEYS_FILE",
)
TEST_PII_HASH_KEY = "test-pii-hash-key-0123456789abcdef0123456789"


def gateway_defaults(env: dict[str, str]) -> dict[str, str]:
    """``env`` with a PII_HASH_KEY, and GATEWAY_AUTH=off unless keys are configured."""
    defaults = {"PII_HASH_KEY": TEST_PII_HASH_KEY}
    if not any(env.get(name) for name in (*KEY_VARIABLES, "GATEWAY_AUTH")):
        defaults["GATEWAY_AUTH"] = "off"
    return {**defaults, **env}


@asynccontextmanager
async def running_gateway(env: dict[str, str]) -> AsyncIterator[str]:
    """Run the gateway's main on a free port until the block exits; yield its URL."""
    port = free_port()
    env = {**gateway_defaults(env), "GATEWAY_PORT": str(port), "BIND_HOST": "127.0.0.1"}
    settings = load_settings(GatewaySettings, env)
    stop = asyncio.Event()
    url = f"http://127.0.0.1:{port}"
    async with AsyncExitStack() as stack:
        health = HealthServer("127.0.0.1", 0)
        deps = await open_deps(SERVICE, settings, health, stack, env=env)
        health.mark_started()
        task = asyncio.create_task(SERVICE.main(deps, stop))
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                if task.done():
                    task.result()  # the gateway crashed: show why
                try:
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        try:
            yield url
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)


@asynccontextmanager
async def _serving(env: dict[str, str], *, with_pipeline: bool) -> AsyncIterator[str]:
    async with AsyncExitStack() as stack:
        if with_pipeline:
            await stack.enter_async_context(running_pipeline(env))
        yield await stack.enter_async_context(running_gateway(env))


@pytest.fixture
def serve(pipeline_env: dict[str, str]) -> Callable[..., Any]:
    """``async with serve(pipeline=True, **env) as url:`` runs the gateway (and pipeline)."""

    def start(*, pipeline: bool = True, **overrides: str | None) -> Any:
        env = {**pipeline_env, **overrides}
        clean = {k: v for k, v in env.items() if v is not None}
        return _serving(clean, with_pipeline=pipeline)

    return start
