"""API B takes over when the primary fails, times out, answers weakly, or breaks mid-stream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neuralbridge.messages.proxy import ProxyAnswer, ProxyDelta, ProxyFailure
from tests.proxy_pipeline.conftest import FALLBACK_ANSWER, GROUNDED, UNGROUNDED, Gateway
from tests.proxy_pipeline.test_answers import QUESTION, final
from tests.support.fake_llm import FakeLLMServer


async def test_primary_500_falls_back_to_api_b(
    pipeline: Callable[..., Any], gateway: Gateway, primary: FakeLLMServer, fallback: FakeLLMServer
) -> None:
    """A 5xx from the primary is answered by API B, reason primary_error."""
    primary.fail_next(3, status=500)
    async with pipeline():
        answer = final(await gateway.ask(QUESTION))
    assert isinstance(answer, ProxyAnswer)
    assert answer.fallback_used
    assert answer.fallback_reason == "primary_error"
    assert answer.provider == "ollama"
    assert answer.answer == FALLBACK_ANSWER
    assert len(fallback.requests) == 1


async def test_primary_timeout_falls_back_to_api_b(
    pipeline: Callable[..., Any], gateway: Gateway, primary: FakeLLMServer
) -> None:
    """A primary that does not answer within LLM_TIMEOUT is replaced, reason primary_timeout."""
    primary.hang_next(seconds=10)
    async with pipeline(LLM_TIMEOUT="1"):
        answer = final(await gateway.ask(QUESTION))
    assert isinstance(answer, ProxyAnswer)
    assert answer.fallback_reason == "primary_timeout"
    assert answer.answer == FALLBACK_ANSWER


async def test_low_confidence_answer_falls_back_to_api_b(
    pipeline: Callable[..., Any], gateway: Gateway, primary: FakeLLMServer
) -> None:
    """An answer the passages do not support goes to API B, whose grounded answer wins."""
    primary.answer = UNGROUNDED
    async with pipeline():
        answer = final(await gateway.ask(QUESTION))
    assert isinstance(answer, ProxyAnswer)
    assert answer.fallback_reason == "low_confidence"
    assert answer.answer == FALLBACK_ANSWER
    assert answer.confidence >= 0.35


async def test_stream_cut_midway_continues_with_api_b(
    pipeline: Callable[..., Any], gateway: Gateway, primary: FakeLLMServer
) -> None:
    """Primary deltas, a reset, API B's deltas, then API B's final answer — no truncated success."""
    primary.answer = "Acme Rockets was founded in 1990. It was founded by Jane Doe. " * 2
    primary.cut_next(after_tokens=9)
    async with pipeline():
        replies = await gateway.ask(QUESTION, stream=True)
    answer = final(replies)
    assert isinstance(answer, ProxyAnswer)
    assert answer.fallback_reason == "stream_broken"
    assert answer.answer == FALLBACK_ANSWER
    deltas = [r for r in replies if isinstance(r, ProxyDelta)]
    resets = [i for i, d in enumerate(deltas) if d.reset]
    assert len(resets) == 1
    assert deltas[: resets[0]], "the primary's first sentence was streamed before the cut"
    assert "".join(d.text for d in deltas[resets[0] + 1 :]) == FALLBACK_ANSWER


async def test_stream_cut_without_api_b_ends_in_failure(
    pipeline: Callable[..., Any], gateway: Gateway, primary: FakeLLMServer
) -> None:
    """With no fallback configured a broken stream ends in ProxyFailure(LLMStreamBroken)."""
    primary.cut_next(after_tokens=3)
    async with pipeline(FALLBACK_PROVIDER=None):
        replies = await gateway.ask(QUESTION, stream=True)
    failure = final(replies)
    assert isinstance(failure, ProxyFailure)
    assert failure.error_class == "LLMStreamBroken"
    assert not any(isinstance(r, ProxyAnswer) for r in replies)
    assert GROUNDED not in "".join(r.text for r in replies if isinstance(r, ProxyDelta))
