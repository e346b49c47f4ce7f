"""Prometheus metrics: requests, duration, time to first token, tokens and errors, by label."""

from __future__ import annotations

import uuid

import pytest

from neuralbridge.llm import LLMStreamBroken, StreamEvent
from neuralbridge.llm.metrics import OTHER_MODEL, configure_model_labels
from tests.llm.conftest import MakeLLM, StartFake, ask, collect, sample


async def test_complete_success_after_retry_records_request_tokens_and_error(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """One 503 then success: 1 success request, 1 server_error, tokens by kind, one duration."""
    model = f"m-{uuid.uuid4().hex[:8]}"
    configure_model_labels(model)
    server = await start_fake("ollama", answer="a b c")
    server.fail_next(status=503)
    llm = make_llm(provider="ollama", model=model, base_url=server.base_url)
    before = {
        "errors": sample("llm_errors_total", provider="ollama", error_type="server_error"),
        "prompt": sample("llm_tokens_total", provider="ollama", kind="prompt"),
        "completion": sample("llm_tokens_total", provider="ollama", kind="completion"),
        "count": sample("llm_request_duration_seconds_count", provider="ollama"),
    }

    await llm.complete(ask("x y"))

    labels = {"provider": "ollama", "model": model}
    assert sample("llm_requests_total", **labels, status="success") == 1
    assert sample("llm_requests_total", **labels, status="error") == 0
    after_errors = sample("llm_errors_total", provider="ollama", error_type="server_error")
    assert after_errors - before["errors"] == 1
    assert sample("llm_tokens_total", provider="ollama", kind="prompt") - before["prompt"] == 2
    completion = sample("llm_tokens_total", provider="ollama", kind="completion")
    assert completion - before["completion"] == 3
    count = sample("llm_request_duration_seconds_count", provider="ollama")
    assert count - before["count"] == 1


async def test_stream_records_time_to_first_token(start_fake: StartFake, make_llm: MakeLLM) -> None:
    """A successful stream observes one time-to-first-token sample for its provider."""
    server = await start_fake("openai", answer="a b c")
    llm = make_llm(provider="openai", model="m", base_url=server.base_url)
    before = sample("llm_time_to_first_token_seconds_count", provider="openai")
    events: list[StreamEvent] = []

    await collect(llm.stream(ask("q")), events)

    assert sample("llm_time_to_first_token_seconds_count", provider="openai") - before == 1


async def test_stream_broken_records_error_request_and_stream_broken_type(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """A cut stream counts one error request and one stream_broken error."""
    model = f"m-{uuid.uuid4().hex[:8]}"
    configure_model_labels(model)
    server = await start_fake("openai", answer="a b c d e")
    server.cut_next(after_tokens=2)
    llm = make_llm(provider="openai", model=model, base_url=server.base_url)
    before = sample("llm_errors_total", provider="openai", error_type="stream_broken")
    events: list[StreamEvent] = []

    with pytest.raises(LLMStreamBroken):
        await collect(llm.stream(ask("q")), events)

    assert sample("llm_requests_total", provider="openai", model=model, status="error") == 1
    after = sample("llm_errors_total", provider="openai", error_type="stream_broken")
    assert after - before == 1


async def test_unconfigured_model_is_counted_as_other(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """A model name a caller chose is never a label value: one series, ``other``, for all."""
    server = await start_fake("ollama", answer="a")
    before = sample("llm_requests_total", provider="ollama", model=OTHER_MODEL, status="success")
    for _ in range(3):
        chosen = f"caller-{uuid.uuid4().hex}"
        await make_llm(provider="ollama", model=chosen, base_url=server.base_url).complete(ask("q"))
        assert sample("llm_requests_total", provider="ollama", model=chosen, status="success") == 0
    after = sample("llm_requests_total", provider="ollama", model=OTHER_MODEL, status="success")
    assert after - before == 3
