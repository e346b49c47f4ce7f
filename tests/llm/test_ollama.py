"""The Ollama client against a fake speaking Ollama's /api/chat wire format."""

from __future__ import annotations

import pytest

from neuralbridge.llm import ChatResult, LLMError, StreamEvent
from tests.llm.conftest import MakeLLM, StartFake, ask, collect, done, texts
from tests.support.fake_llm import fake_tokens

_ANSWER = "Ollama runs models locally. It listens on port 11434."


async def test_complete_ollama_sends_documented_body(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """complete() posts model, messages, stream=false and options {temperature, num_predict}."""
    server = await start_fake("ollama", answer=_ANSWER)
    llm = make_llm(
        provider="ollama",
        model="llama3.2",
        base_url=server.base_url,
        temperature=0.3,
        max_tokens=99,
    )

    await llm.complete(ask("Where?", system="Answer briefly.", stop=["END"]))

    (request,) = server.requests
    assert request.path == "/api/chat"
    assert "Authorization" not in request.headers
    assert request.body == {
        "model": "llama3.2",
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Where?"},
        ],
        "stream": False,
        "options": {"temperature": 0.3, "num_predict": 99, "stop": ["END"]},
    }


async def test_complete_ollama_without_options_sends_no_options(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """With no temperature, limit or stop, the body has no options object at all."""
    server = await start_fake("ollama")
    llm = make_llm(provider="ollama", model="llama3.2", base_url=server.base_url)

    await llm.complete(ask("q"))

    assert set(server.requests[0].body) == {"model", "messages", "stream"}


async def test_complete_ollama_returns_text_reason_and_eval_counts(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """message.content, done_reason, prompt_eval_count and eval_count are parsed."""
    server = await start_fake("ollama", answer=_ANSWER)
    llm = make_llm(provider="ollama", model="llama3.2", base_url=server.base_url)

    result = await llm.complete(ask("Where does Ollama listen?"))

    assert result == ChatResult(
        text=_ANSWER,
        model="llama3.2",
        finish_reason="stop",
        prompt_tokens=len(fake_tokens("Where does Ollama listen?")),
        completion_tokens=len(fake_tokens(_ANSWER)),
        provider="ollama",
    )


async def test_stream_ollama_reassembles_ndjson_deltas(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """stream() sends stream=true; NDJSON deltas join to the answer; Done has the counts."""
    server = await start_fake("ollama", answer=_ANSWER)
    llm = make_llm(provider="ollama", model="llama3.2", base_url=server.base_url, max_tokens=4)
    events: list[StreamEvent] = []

    await collect(llm.stream(ask("q")), events)

    assert server.requests[0].body["stream"] is True
    assert texts(events) == fake_tokens(_ANSWER)[:4]
    result = done(events).result
    assert result.text == "".join(fake_tokens(_ANSWER)[:4])
    assert (result.finish_reason, result.completion_tokens, result.prompt_tokens) == (
        "length",
        4,
        1,
    )


async def test_complete_ollama_unknown_model_raises_llm_error_with_message(
    start_fake: StartFake, make_llm: MakeLLM
) -> None:
    """A model that was not pulled answers 404 {"error"}: permanent, with Ollama's text."""
    server = await start_fake("ollama", models={"llama3.2"})
    llm = make_llm(provider="ollama", model="mistral", base_url=server.base_url)

    with pytest.raises(LLMError, match='HTTP 404: model "mistral" not found') as caught:
        await llm.complete(ask("q"))

    assert caught.value.status == 404
    assert len(server.requests) == 1
