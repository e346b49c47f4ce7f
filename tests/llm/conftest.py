"""Fixtures for the LLM client tests: an HTTP session, fast settings, fake provider servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import pytest
from prometheus_client import REGISTRY

from neuralbridge.llm import (
    ChatMessage,
    ChatRequest,
    Delta,
    Done,
    LLMClient,
    LLMProfile,
    LLMSettings,
    StreamEvent,
    create_llm,
)
from tests.support.fake_llm import Dialect, FakeLLMServer

#: A key the scrubber does not recognise by shape: only literal redaction hides it.
API_KEY = "nbtest-9f2c4e7a1b3d5f60"

StartFake = Callable[..., Awaitable[FakeLLMServer]]
MakeLLM = Callable[..., LLMClient]


def sample(name: str, **labels: str) -> float:
    """Read a metric sample from the default registry (0 when never recorded)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def ask(question: str, *, system: str | None = None, **overrides: Any) -> ChatRequest:
    """A request with an optional system message and one user question."""
    messages = [ChatMessage(role="system", content=system)] if system else []
    messages.append(ChatMessage(role="user", content=question))
    return ChatRequest(messages=messages, **overrides)


async def collect(events: AsyncIterator[StreamEvent], into: list[StreamEvent]) -> None:
    """Append every event of a stream to ``into`` (kept when the stream raises)."""
    async for event in events:
        into.append(event)  # noqa: PERF401 - keep what arrived before a failure


def texts(events: list[StreamEvent]) -> list[str]:
    """The texts of the ``Delta`` events."""
    return [event.text for event in events if isinstance(event, Delta)]


def done(events: list[StreamEvent]) -> Done:
    """The single ``Done`` event, which must be the last."""
    finals = [event for event in events if isinstance(event, Done)]
    assert len(finals) == 1
    assert events[-1] is finals[0]
    return finals[0]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP session, as a service's composition root would own it."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def settings() -> LLMSettings:
    """Short timeouts and backoff."""
    return LLMSettings(
        timeout=5.0, connect_timeout=2.0, first_token_timeout=2.0, max_retries=2, retry_delay_ms=10
    )


@pytest.fixture
async def start_fake() -> AsyncIterator[StartFake]:
    """Start fake provider servers; all are closed after the test."""
    servers: list[FakeLLMServer] = []

    async def start(dialect: Dialect, **options: Any) -> FakeLLMServer:
        server = await FakeLLMServer(dialect, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
def make_llm(session: aiohttp.ClientSession, settings: LLMSettings) -> MakeLLM:
    """Build a client from profile fields; the env holds ``API_KEY`` as ``OPENAI_API_KEY``."""

    def make(
        *,
        env: Mapping[str, str] | None = None,
        settings_override: LLMSettings | None = None,
        **profile: Any,
    ) -> LLMClient:
        return create_llm(
            LLMProfile(**profile),
            session=session,
            settings=settings_override or settings,
            env={"OPENAI_API_KEY": API_KEY} if env is None else env,
        )

    return make
