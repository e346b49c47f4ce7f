"""Fixtures for the LLM client tests: an HTTP session, fast settings, fake provider servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import pytest

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
from tests.support.fake_llm import FakeLLMServer
from tests.support.provider_fixtures import API_KEY, sample, session, start_fake_fixture

__all__ = [
    "API_KEY",
    "MakeLLM",
    "StartFake",
    "ask",
    "collect",
    "done",
    "sample",
    "session",
    "start_fake",
    "texts",
]

StartFake = Callable[..., Awaitable[FakeLLMServer]]
MakeLLM = Callable[..., LLMClient]


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
def settings() -> LLMSettings:
    """Short timeouts and backoff."""
    return LLMSettings(
        timeout=5.0, connect_timeout=2.0, first_token_timeout=2.0, max_retries=2, retry_delay_ms=10
    )


start_fake = start_fake_fixture(FakeLLMServer)


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
