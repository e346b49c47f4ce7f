"""Streams that break: never retried after a token, never ending like a success."""

from __future__ import annotations

import time

import pytest

from neuralbridge.llm import Delta, Done, LLMSettings, LLMStreamBroken, LLMUnavailable, StreamEvent
from tests.llm.conftest import MakeLLM, StartFake, ask, collect, done, texts
from tests.support.fake_llm import Dialect, fake_tokens

_MODELS: dict[Dialect, str] = {"openai": "gpt-4o-mini", "ollama": "llama3.2"}
_DIALECTS = pytest.mark.parametrize("dialect", list(_MODELS))
_ANSWER = "one two three four five six seven eight"


@_DIALECTS
async def test_stream_cut_after_3_tokens_raises_broken_after_3_deltas(
    start_fake: StartFake, make_llm: MakeLLM, dialect: Dialect
) -> None:
    """A connection closed after 3 tokens: 3 deltas, then LLMStreamBroken, no Done, no retry."""
    server = await start_fake(dialect, answer=_ANSWER)
    server.cut_next(after_tokens=3)
    llm = make_llm(provider=dialect, model=_MODELS[dialect], base_url=server.base_url)
    events: list[StreamEvent] = []

    with pytest.raises(LLMStreamBroken) as caught:
        await collect(llm.stream(ask("q")), events)

    assert texts(events) == fake_tokens(_ANSWER)[:3]
    assert all(isinstance(event, Delta) for event in events)
    assert caught.value.received == 3
    assert len(server.requests) == 1


@_DIALECTS
async def test_stream_malformed_chunk_mid_stream_raises_broken(
    start_fake: StartFake, make_llm: MakeLLM, dialect: Dialect
) -> None:
    """A chunk that is not JSON after 2 tokens breaks the stream instead of being skipped."""
    server = await start_fake(dialect, answer=_ANSWER)
    server.malform_next(after_tokens=2)
    llm = make_llm(provider=dialect, model=_MODELS[dialect], base_url=server.base_url)
    events: list[StreamEvent] = []

    with pytest.raises(LLMStreamBroken, match="malformed stream chunk"):
        await collect(llm.stream(ask("q")), events)

    assert texts(events) == fake_tokens(_ANSWER)[:2]


@_DIALECTS
async def test_stream_cut_before_first_token_is_retried(
    start_fake: StartFake, make_llm: MakeLLM, dialect: Dialect
) -> None:
    """A stream that dies before any token reached the caller is safe to retry, and is."""
    server = await start_fake(dialect, answer=_ANSWER)
    server.cut_next(after_tokens=0)
    llm = make_llm(provider=dialect, model=_MODELS[dialect], base_url=server.base_url)
    events: list[StreamEvent] = []

    await collect(llm.stream(ask("q")), events)

    assert len(server.requests) == 2
    assert done(events).result.text == _ANSWER


@_DIALECTS
async def test_stream_no_first_token_in_time_raises_unavailable_timeout(
    start_fake: StartFake, make_llm: MakeLLM, dialect: Dialect
) -> None:
    """Headers but no token within first_token_timeout, every attempt: LLMUnavailable(timeout)."""
    server = await start_fake(dialect)
    server.stall_next(2, seconds=5.0)
    settings = LLMSettings(first_token_timeout=0.2, max_retries=1, retry_delay_ms=1)
    llm = make_llm(
        provider=dialect,
        model=_MODELS[dialect],
        base_url=server.base_url,
        settings_override=settings,
    )
    events: list[StreamEvent] = []
    started = time.monotonic()

    with pytest.raises(LLMUnavailable, match=r"no first token within 0\.2s") as caught:
        await collect(llm.stream(ask("q")), events)

    assert caught.value.error_type == "timeout"
    assert events == []
    assert len(server.requests) == 2
    assert time.monotonic() - started < 2.0


async def test_stream_slow_first_token_once_then_streams(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """One stalled attempt is abandoned at first_token_timeout; the retry streams normally."""
    server = await start_fake("openai", answer=_ANSWER)
    server.stall_next(seconds=5.0)
    settings = LLMSettings(first_token_timeout=0.2, max_retries=1, retry_delay_ms=1)
    llm = make_llm(
        provider="openai", model="m", base_url=server.base_url, settings_override=settings
    )
    events: list[StreamEvent] = []

    await collect(llm.stream(ask("q")), events)

    assert "".join(texts(events)) == _ANSWER
    assert len(server.requests) == 2


async def test_stream_slow_tokens_past_total_timeout_raise_broken(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """Tokens that keep coming past the whole-request timeout end in LLMStreamBroken."""
    server = await start_fake("ollama", answer=_ANSWER, token_latency=0.1)
    settings = LLMSettings(timeout=0.35, first_token_timeout=0.3, max_retries=0)
    llm = make_llm(
        provider="ollama", model="llama3.2", base_url=server.base_url, settings_override=settings
    )
    events: list[StreamEvent] = []

    with pytest.raises(LLMStreamBroken, match="TimeoutError"):
        await collect(llm.stream(ask("q")), events)

    assert 0 < len(texts(events)) < len(fake_tokens(_ANSWER))
    assert not any(isinstance(event, Done) for event in events)


async def test_stream_consumer_stops_early_closes_connection(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """Leaving the loop after 2 deltas releases the response; the next call works."""
    server = await start_fake("openai", answer=_ANSWER, token_latency=0.01)
    llm = make_llm(provider="openai", model="m", base_url=server.base_url)
    received: list[str] = []

    stream = llm.stream(ask("q"))
    async for event in stream:
        assert isinstance(event, Delta)
        received.append(event.text)
        if len(received) == 2:
            break
    await stream.aclose()  # type: ignore[attr-defined]

    assert received == fake_tokens(_ANSWER)[:2]
    assert (await llm.complete(ask("again"))).text == _ANSWER
