"""The REST shapes of ``POST /api/proxy/query`` (seed 003), and their mapping.

The request is the seed's ``{query, session_id, provider?, model?,
temperature?}``; unknown fields are rejected so a typo is named, not ignored.
The response mirrors :class:`~neuralbridge.messages.proxy.ProxyAnswer`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

import msgspec

from neuralbridge.gateway.proxy_client import Ask
from neuralbridge.messages.proxy import GuardrailFinding, ProxyAnswer

__all__ = ["QueryAnswer", "QueryInput", "Source"]


class QueryInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A question for the proxy."""

    query: Annotated[str, msgspec.Meta(min_length=1, max_length=32_000)]
    session_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    provider: Literal["openai", "ollama", "extractive"] | None = None
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None

    def to_ask(self, *, stream: bool = False) -> Ask:
        """The question as the proxy client takes it."""
        return Ask(
            query=self.query, session_id=self.session_id, provider=self.provider,
            model=self.model, temperature=self.temperature, stream=stream,
        )  # fmt: skip


class Source(msgspec.Struct, frozen=True, kw_only=True):
    """A retrieved passage the answer may cite as ``[source N]``."""

    document: str
    chunk_index: int
    score: float
    text: str


class QueryAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to a question, with how it was produced."""

    answer: str
    sources: list[Source]
    provider: str
    model: str
    cached: bool
    confidence: float
    fallback_used: bool
    fallback_reason: str | None
    guardrails: list[GuardrailFinding]
    request_id: str
    latency_ms: float

    @classmethod
    def from_answer(cls, answer: ProxyAnswer, *, latency_ms: float) -> Self:
        """Map the pipeline's answer; ``latency_ms`` is as seen by the gateway."""
        return cls(
            answer=answer.answer,
            sources=[
                Source(document=s.document, chunk_index=s.chunk_index, score=s.score, text=s.text)
                for s in answer.sources
            ],
            provider=answer.provider,
            model=answer.model,
            cached=answer.cached,
            confidence=answer.confidence,
            fallback_used=answer.fallback_used,
            fallback_reason=answer.fallback_reason,
            guardrails=answer.guardrails,
            request_id=answer.request_id,
            latency_ms=latency_ms,
        )
