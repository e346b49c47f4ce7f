"""The one interface every chat-completion client implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from neuralbridge.llm.chat import ChatRequest, ChatResult, StreamEvent

__all__ = ["LLMClient"]


@runtime_checkable
class LLMClient(Protocol):
    """Answers chat requests with one model at one provider.

    Attributes:
        provider: The provider name (``openai``, ``ollama``, ``extractive``), also a metrics label.
        model: The model name from the profile.
    """

    provider: str
    model: str

    async def complete(self, request: ChatRequest) -> ChatResult:
        """Return the whole answer at once.

        Raises:
            LLMError: the provider refused the request (permanent).
            LLMResponseError: the provider answered 200 with a malformed body.
            LLMUnavailable: the provider stayed unavailable through every retry.
        """
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield the answer as :class:`Delta` events, then exactly one :class:`Done`.

        Failures before the first delta are retried like :meth:`complete`; once a
        delta has been yielded nothing is retried.

        Raises:
            LLMError: the provider refused the request (permanent).
            LLMUnavailable: no first token arrived through every retry.
            LLMStreamBroken: the stream stopped after it started; no ``Done`` follows.
        """
        ...
