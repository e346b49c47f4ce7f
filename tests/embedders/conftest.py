"""Fixtures for the embedder tests: an HTTP session, fast settings, fake provider servers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import pytest

from neuralbridge.embedders import Embedder, EmbedderProfile, EmbedderSettings, create_embedder
from tests.support.fake_embedders import FakeEmbedderServer
from tests.support.provider_fixtures import API_KEY, sample, session, start_fake_fixture

__all__ = ["API_KEY", "MakeEmbedder", "StartFake", "sample", "session", "start_fake"]

StartFake = Callable[..., Awaitable[FakeEmbedderServer]]
MakeEmbedder = Callable[..., Embedder]


@pytest.fixture
def settings() -> EmbedderSettings:
    """Short timeouts and backoff, and no practical rate limit."""
    return EmbedderSettings(
        timeout=5.0, max_retries=3, retry_delay_ms=10, requests_per_second=10_000.0
    )


start_fake = start_fake_fixture(FakeEmbedderServer)


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
