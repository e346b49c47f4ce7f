"""Fixtures for the embedder tests: an HTTP session, fast settings, fake provider servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import pytest
from prometheus_client import REGISTRY

from neuralbridge.embedders import Embedder, EmbedderProfile, EmbedderSettings, create_embedder
from tests.support.fake_embedders import Dialect, FakeEmbedderServer

#: A key the scrubber does not recognise by shape: only literal redaction hides it.
API_KEY = "nbtest-9f2c4e7a1b3d5f60"

StartFake = Callable[..., Awaitable[FakeEmbedderServer]]
MakeEmbedder = Callable[..., Embedder]


def sample(name: str, **labels: str) -> float:
    """Read a metric sample from the default registry (0 when never recorded)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP session, as a service's composition root would own it."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def settings() -> EmbedderSettings:
    """Short timeouts and backoff, and no practical rate limit."""
    return EmbedderSettings(
        timeout=5.0, max_retries=3, retry_delay_ms=10, requests_per_second=10_000.0
    )


@pytest.fixture
async def start_fake() -> AsyncIterator[StartFake]:
    """Start fake provider servers; all are closed after the test."""
    servers: list[FakeEmbedderServer] = []

    async def start(dialect: Dialect, **options: Any) -> FakeEmbedderServer:
        server = await FakeEmbedderServer(dialect, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
def make_embedder(session: aiohttp.ClientSession, settings: EmbedderSettings) -> MakeEmbedder:
    """Build an embedder from profile fields; the env holds ``API_KEY`` for every provider."""

    def make(
        *,
        env: Mapping[str, str] | None = None,
        settings_override: EmbedderSettings | None = None,
        **profile: Any,
    ) -> Embedder:
        default_env = {
            name: API_KEY
            for name in ("OPENAI_API_KEY", "COHERE_API_KEY", "JINA_API_KEY", "VOYAGE_API_KEY")
        }
        return create_embedder(
            EmbedderProfile(**profile),
            session=session,
            settings=settings_override or settings,
            env=default_env if env is None else env,
        )

    return make
