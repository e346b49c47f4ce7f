"""The OpenAI client against a fake speaking OpenAI's chat-completions wire format."""

from __future__ import annotations

import aiohttp
import pytest

from neuralbridge.llm import ChatResult, LLMError, LLMProfile, LLMSettings, StreamEvent
from neuralbridge.llm.openai import OpenAIChatClient
from tests.llm.conftest import API_KEY, MakeLLM, StartFake, ask, collect, done, texts
from tests.support.fake_llm import fake_tokens

_ANSWER = "Lisbon is the capital of Portugal, on the Tagus river."


async def test_complete_openai_sends_documented_body_and_bearer_key(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """complete() posts model, messages, temperature, max_tokens, stop and stream=false."""
    server = await start_fake("openai", api_key=API_KEY, answer=_ANSWER)
    llm = make_llm(
        provider="openai",
        model="gpt-4o-mini",
        base_url=server.base_url,
        temperature=0.2,
        max_tokens=64,
        credential="OPENAI_API_KEY",
    )

    await llm.complete(ask("Capital?", system="Be brief.", stop=["\n\n"]))

    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.body == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Capital?"},
        ],
        "temperature": 0.2,
        "max_tokens": 64,
        "stop": ["\n\n"],
        "stream": False,
    }


async def test_complete_openai_returns_text_model_reason_and_usage(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """The answer, the reported model snapshot, finish_reason and usage are parsed."""
    server = await start_fake("openai", answer=_ANSWER, reported_model="gpt-4o-mini-2024-07-18")
    llm = make_llm(provider="openai", model="gpt-4o-mini", base_url=server.base_url)

    result = await llm.complete(ask("What is the capital of Portugal?"))

    assert result == ChatResult(
        text=_ANSWER,
        model="gpt-4o-mini-2024-07-18",
        finish_reason="stop",
        prompt_tokens=len(fake_tokens("What is the capital of Portugal?")),
        completion_tokens=len(fake_tokens(_ANSWER)),
        provider="openai",
    )
    assert "Authorization" not in server.requests[0].headers


async def test_complete_openai_request_overrides_win_over_profile(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """A request's temperature and max_tokens replace the profile's; the limit truncates."""
    server = await start_fake("openai", answer=_ANSWER)
    llm = make_llm(
        provider="openai", model="m", base_url=server.base_url, temperature=0.9, max_tokens=500
    )

    result = await llm.complete(ask("q", temperature=0.0, max_tokens=3))

    assert server.requests[0].body["temperature"] == 0.0
    assert server.requests[0].body["max_tokens"] == 3
    assert result.text == "".join(fake_tokens(_ANSWER)[:3])
    assert result.finish_reason == "length"


async def test_stream_openai_sends_stream_options_and_reassembles_answer(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """stream() asks for a usage chunk; the deltas join to the answer; Done carries usage."""
    server = await start_fake("openai", answer=_ANSWER)
    llm = make_llm(provider="openai", model="gpt-4o-mini", base_url=server.base_url)
    events: list[StreamEvent] = []

    await collect(llm.stream(ask("Capital?")), events)

    body = server.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert texts(events) == fake_tokens(_ANSWER)
    result = done(events).result
    assert result.text == _ANSWER
    assert (result.finish_reason, result.model, result.provider) == (
        "stop",
        "gpt-4o-mini",
        "openai",
    )
    assert result.completion_tokens == len(fake_tokens(_ANSWER))
    assert result.prompt_tokens == 1


async def test_stream_openai_echo_round_trips_unicode(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """Non-ASCII text (accents, emoji, CJK) survives SSE framing unchanged."""
    server = await start_fake("openai", echo=True)
    llm = make_llm(provider="openai", model="m", base_url=server.base_url)
    question = "Olá, coração! 🚀 東京\nsegunda linha"
    events: list[StreamEvent] = []

    await collect(llm.stream(ask(question)), events)

    assert "".join(texts(events)) == question
    assert done(events).result.text == question


async def test_request_body_public_api_uses_max_completion_tokens(
    session: aiohttp.ClientSession,
) -> None:
    """At api.openai.com the limit goes out as max_completion_tokens (max_tokens is deprecated)."""
    llm = OpenAIChatClient.from_profile(
        LLMProfile(provider="openai", model="o3-mini", max_tokens=50),
        session=session,
        settings=LLMSettings(),
        env={"OPENAI_API_KEY": API_KEY},
    )

    body = llm.request_body(ask("q"), stream=False)

    assert body["max_completion_tokens"] == 50
    assert "max_tokens" not in body
    assert llm.base_url == "https://api.openai.com/v1"


async def test_complete_openai_reasoning_model_with_max_tokens_is_rejected_by_fake(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """The fake rejects max_tokens for o-series models like OpenAI does (protocol realism)."""
    server = await start_fake("openai")
    llm = make_llm(provider="openai", model="o3-mini", base_url=server.base_url, max_tokens=5)

    with pytest.raises(LLMError, match="max_completion_tokens"):
        await llm.complete(ask("q"))
