"""Failure handling of complete() and of opening a stream: retries, hints, permanent errors."""

from __future__ import annotations

import socket

import pytest
from structlog.testing import capture_logs

from neuralbridge.core.errors import PermanentError, RetryableError
from neuralbridge.llm import LLMError, LLMResponseError, LLMSettings, LLMUnavailable, StreamEvent
from tests.llm.conftest import API_KEY, MakeLLM, StartFake, ask, collect, done, texts
from tests.support.fake_llm import Dialect

_MODELS: dict[Dialect, str] = {"openai": "gpt-4o-mini", "ollama": "llama3.2"}
_DIALECTS = pytest.mark.parametrize("dialect", list(_MODELS))


@_DIALECTS
async def test_complete_429_with_retry_after_waits_at_least_the_hint(
    start_fake: StartFake, make_llm: MakeLLM, dialect: Dialect
) -> None:
    """After a 429 with Retry-After: 0.3 the retry comes no sooner than 0.3 s, then succeeds."""
    server = await start_fake(dialect)
    server.fail_next(status=429, headers={"Retry-After": "0.3"})
    llm = make_llm(provider=dialect, model=_MODELS[dialect], base_url=server.base_url)

    result = await llm.complete(ask("q"))

    first, second = server.requests
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.3
    assert result.text == server.answer


async def test_complete_429_with_ratelimit_reset_header_waits_for_reset(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """OpenAI's x-ratelimit-reset-requests: 300ms (remaining 0) delays the retry >= 0.3 s."""
    server = await start_fake("openai")
    server.fail_next(
        headers={"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "300ms"}
    )
    llm = make_llm(provider="openai", model="m", base_url=server.base_url)

    await llm.complete(ask("q"))

    first, second = server.requests
    assert second.at - first.at >= 0.3


@_DIALECTS
@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_complete_5xx_then_success_returns_answer(
    start_fake: StartFake, make_llm: MakeLLM, dialect: Dialect, status: int
) -> None:
    """A server error is retried with backoff and the next answer is used."""
    server = await start_fake(dialect)
    server.fail_next(status=status)
    llm = make_llm(provider=dialect, model=_MODELS[dialect], base_url=server.base_url)

    result = await llm.complete(ask("q"))

    assert [r.status for r in server.requests] == [status, 200]
    assert result.text == server.answer


@_DIALECTS
async def test_complete_retries_exhausted_raises_llm_unavailable_with_hint(
    start_fake: StartFake, make_llm: MakeLLM, dialect: Dialect
) -> None:
    """1 + max_retries 503s raise LLMUnavailable (retryable), carrying the last Retry-After."""
    server = await start_fake(dialect)
    server.fail_next(3, status=503, headers={"Retry-After": "0"})
    llm = make_llm(provider=dialect, model=_MODELS[dialect], base_url=server.base_url)

    with pytest.raises(LLMUnavailable, match="gave up after 3 attempts") as caught:
        await llm.complete(ask("q"))

    assert isinstance(caught.value, RetryableError)
    assert (caught.value.status, caught.value.delay, caught.value.error_type) == (
        503,
        0.0,
        "server_error",
    )
    assert len(server.requests) == 3


@_DIALECTS
async def test_stream_503_before_first_token_is_retried_then_streams(
    start_fake: StartFake, make_llm: MakeLLM, dialect: Dialect
) -> None:
    """Opening a stream is retried like complete(): the caller sees only the good stream."""
    server = await start_fake(dialect)
    server.fail_next(status=503)
    llm = make_llm(provider=dialect, model=_MODELS[dialect], base_url=server.base_url)
    events: list[StreamEvent] = []

    await collect(llm.stream(ask("q")), events)

    assert [r.status for r in server.requests] == [503, 200]
    assert "".join(texts(events)) == done(events).result.text == server.answer


async def test_complete_400_raises_llm_error_with_message_and_no_key(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """A 400 is permanent, not retried, keeps OpenAI's message and never shows the key."""
    server = await start_fake("openai")
    server.fail_next(status=400, message=f"Invalid 'messages[0]': bad input near {API_KEY}")
    llm = make_llm(
        provider="openai", model="m", base_url=server.base_url, credential="OPENAI_API_KEY"
    )

    with capture_logs() as logs, pytest.raises(LLMError) as caught:
        await llm.complete(ask("q"))

    assert isinstance(caught.value, PermanentError)
    assert caught.value.status == 400
    assert "HTTP 400: Invalid 'messages[0]': bad input near ********" in str(caught.value)
    assert len(server.requests) == 1
    assert logs, "the failed call is logged"
    assert API_KEY not in repr(logs)
    assert API_KEY not in str(caught.value)


async def test_complete_wrong_key_raises_llm_error_without_the_key(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """A 401 (wrong key) is permanent; neither the error nor the logs hold the sent key."""
    server = await start_fake("openai", api_key="the-right-key-000000")
    llm = make_llm(
        provider="openai", model="m", base_url=server.base_url, credential="OPENAI_API_KEY"
    )

    with capture_logs() as logs, pytest.raises(LLMError, match="Incorrect API key") as caught:
        await llm.complete(ask("q"))

    assert caught.value.status == 401
    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(logs)


async def test_complete_malformed_200_raises_llm_response_error(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """A 200 body without choices is a permanent LLMResponseError."""
    server = await start_fake("openai")
    server.malform_next()
    llm = make_llm(provider="openai", model="m", base_url=server.base_url)

    with pytest.raises(LLMResponseError, match="malformed response"):
        await llm.complete(ask("q"))


async def test_complete_hanging_server_times_out_then_recovers(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """A request that outlives the timeout is retried; the next answer is used."""
    server = await start_fake("openai")
    server.hang_next(seconds=5.0)
    llm = make_llm(
        provider="openai",
        model="m",
        base_url=server.base_url,
        settings_override=LLMSettings(timeout=0.3, max_retries=1, retry_delay_ms=1),
    )

    result = await llm.complete(ask("q"))

    assert len(server.requests) == 2
    assert result.text == server.answer


async def test_complete_connection_refused_raises_llm_unavailable(make_llm: MakeLLM) -> None:
    """Nothing listening: connection errors are retried, then LLMUnavailable(connection)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    llm = make_llm(provider="ollama", model="llama3.2", base_url=f"http://127.0.0.1:{port}")

    with pytest.raises(LLMUnavailable) as caught:
        await llm.complete(ask("q"))

    assert caught.value.error_type == "connection"
