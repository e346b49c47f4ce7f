"""The pipeline measures its providers: every call, a sliding window, idle probes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import msgspec
import pytest

from neuralbridge.llm import ChatMessage, ChatRequest, LLMProfile, LLMSettings, LLMUnavailable
from neuralbridge.proxy_pipeline.provider_health import (
    IDLE_SECONDS,
    PROBE_EVERY_SECONDS,
    ProviderWatch,
    TrackedPool,
    probe_due,
)
from tests.support.fake_llm import FakeLLMServer

QUESTION = ChatRequest(messages=[ChatMessage(role="user", content="Who founded Acme?")])


@pytest.fixture
async def openai() -> AsyncIterator[FakeLLMServer]:
    """A fake OpenAI primary."""
    server = await FakeLLMServer("openai", answer="Jane Doe.").start()
    yield server
    await server.close()


@pytest.fixture
async def pool(openai: FakeLLMServer) -> AsyncIterator[TrackedPool]:
    """A tracked pool whose primary is the fake, with no API B and no retries."""
    primary = LLMProfile(provider="openai", model="gpt-test", base_url=openai.base_url)
    async with aiohttp.ClientSession() as session:
        settings = LLMSettings(max_retries=0, timeout=5)
        yield TrackedPool(session, settings, {}, primary=primary, fallback=None)


async def test_call_after_success_and_failure_reports_both_with_class_only(
    pool: TrackedPool, openai: FakeLLMServer
) -> None:
    """A success then a 500: last success, last error class, 2 calls, 1 error, no error text."""
    client = pool.client(pool.primary)
    await client.complete(QUESTION)
    openai.fail_next(status=500, message="leaked sk-secret-999")
    with pytest.raises(LLMUnavailable):
        await client.complete(QUESTION)
    (health,) = [watch.snapshot() for watch in pool.watches()]
    assert (health.role, health.provider, health.model) == ("primary_llm", "openai", "gpt-test")
    assert health.last_success_at is not None
    assert health.last_error_at is not None
    assert health.last_error_at >= health.last_success_at
    assert (health.last_error_class, health.calls, health.errors) == ("LLMUnavailable", 2, 1)
    assert b"sk-secret-999" not in msgspec.json.encode(health)


async def test_stream_until_done_counts_one_success(pool: TrackedPool) -> None:
    """A streamed answer that reaches its Done event is one successful call."""
    events = [event async for event in pool.client(pool.primary).stream(QUESTION)]
    assert events
    (health,) = [watch.snapshot() for watch in pool.watches()]
    assert (health.calls, health.errors, health.last_error_class) == (1, 0, None)


async def test_override_model_is_not_measured_as_the_primary(pool: TrackedPool) -> None:
    """A caller's per-request model is not the configured primary: its calls are not counted."""
    other = msgspec.structs.replace(pool.primary, model="gpt-other")
    await pool.client(other).complete(QUESTION)
    assert pool.watches()[0].snapshot().calls == 0


def test_window_after_it_passes_forgets_old_calls() -> None:
    """Calls older than the window leave ``calls``/``errors``; the last times stay."""
    now = [1000.0]
    watch = ProviderWatch(
        "api_b", LLMProfile(provider="ollama", model="llama-test"), clock=lambda: now[0]
    )
    watch.failed(LLMUnavailable("ollama: 503"))
    now[0] += 301.0
    watch.succeeded()
    health = watch.snapshot()
    assert (health.calls, health.errors) == (1, 0)
    assert (health.last_error_at, health.last_success_at) == (1000.0, 1301.0)
    assert health.last_error_class == "LLMUnavailable"


async def test_probe_when_idle_calls_provider_once_per_interval(
    pool: TrackedPool, openai: FakeLLMServer
) -> None:
    """Idle providers are probed (one 1-token request), then not again until the interval."""
    start = time.time()
    assert await probe_due(pool, start) == []  # just started: not idle yet
    idle = start + IDLE_SECONDS + 1
    assert await probe_due(pool, idle) == ["primary_llm"]
    assert await probe_due(pool, idle + PROBE_EVERY_SECONDS - 1) == []
    assert len(openai.requests) == 1
    assert openai.requests[0].body["max_tokens"] == 1
    health = pool.watches()[0].snapshot()
    assert (health.last_probe_at, health.calls, health.errors) == (idle, 1, 0)
    assert health.last_success_at is not None
