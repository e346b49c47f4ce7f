"""Reading a streamed answer line by line until the provider says it is finished.

Provider modules turn one line of their stream format (SSE for OpenAI, NDJSON
for Ollama) into text and end-of-stream facts kept in a :class:`StreamState`;
:func:`next_text` drives them and turns every way a stream can fail (a cut
connection, a malformed line, an end without the provider's end marker) into
:class:`~neuralbridge.llm.errors.LLMStreamBroken`, so a broken stream never
looks like a short answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import msgspec

from neuralbridge.llm.chat import ChatResult
from neuralbridge.llm.errors import LLMStreamBroken

__all__ = ["LineParser", "StreamState", "next_text"]


@dataclass(slots=True)
class StreamState:
    """What a stream has said so far besides its text.

    Attributes:
        model: The model the provider reported.
        finish_reason: Why generation stopped, once the provider said so.
        prompt_tokens: Prompt tokens, once reported.
        completion_tokens: Completion tokens, once reported.
        finished: The provider's end marker (``[DONE]``, ``done: true``) arrived.
        parts: The text deltas received, in order.
        pending: Protocol state between lines (SSE data lines of one event).
    """

    model: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finished: bool = False
    parts: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    def result(self, *, provider: str, model: str) -> ChatResult:
        """The finished answer; ``model`` stands in when the provider reported none."""
        return ChatResult(
            text="".join(self.parts),
            model=self.model or model,
            finish_reason=self.finish_reason,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            provider=provider,
        )


#: Reads one raw line (without its newline) into the state; returns the text it carried.
#: Raises ``msgspec`` errors for malformed lines and ``LLMStreamBroken`` for error payloads.
LineParser = Callable[[str, StreamState], str | None]


async def next_text(
    response: aiohttp.ClientResponse, state: StreamState, parse: LineParser, provider: str
) -> str | None:
    """Return the next non-empty text delta, or ``None`` once the stream ended properly.

    Raises:
        LLMStreamBroken: the connection failed or timed out, a line was malformed,
            the provider sent an error, or the body ended before the provider said
            it was finished.
    """
    while not state.finished:
        try:
            raw = await response.content.readline()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise LLMStreamBroken(
                f"{provider}: stream failed: {type(exc).__name__}: {exc}"
            ) from None
        if not raw:
            if state.finish_reason is not None:
                return None
            raise LLMStreamBroken(f"{provider}: stream ended before the provider finished")
        try:
            text = parse(raw.decode("utf-8", "replace").rstrip("\r\n"), state)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise LLMStreamBroken(f"{provider}: malformed stream chunk: {exc}") from None
        if text:
            state.parts.append(text)
            return text
    return None
