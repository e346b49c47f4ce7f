"""Stream one request's replies as OpenAI ``chat.completion.chunk`` server-sent events.

The stream is ``data: {chunk}`` lines: a role chunk, one content chunk per
delta, a ``finish_reason: "stop"`` chunk carrying the ``neuralbridge`` extras,
a usage chunk when ``stream_options.include_usage`` asked for one, then
``data: [DONE]``.

**Resets.** SSE cannot take back text. When the pipeline sends a ``reset``
delta after text was streamed (the primary's stream broke, or its answer was
replaced by API B's), the gateway sends :data:`RESET_SEPARATOR` as content and
streams the replacement after it; the final chunk's ``neuralbridge`` object
says ``fallback_used``. If what was streamed since the last reset is not the
final answer (which is authoritative), the missing tail is sent, or — when it
is not a continuation — a separator and the whole final answer.

**Errors** after the response started are sent as ``data: {"error": {...}}``
(what the ``openai`` SDK raises as ``APIError``) and the stream ends without
``[DONE]``: never a silent close, never a truncated success.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import msgspec
import structlog

from neuralbridge.gateway.errors import GatewayError
from neuralbridge.gateway.openai_wire import extras, usage
from neuralbridge.gateway.proxy_client import ReplyStream
from neuralbridge.messages.proxy import ProxyAnswer, ProxyDelta

__all__ = ["RESET_SEPARATOR", "chat_events", "error_event"]

log = structlog.get_logger()

#: Sent as content when streamed text is withdrawn; the replacement follows it.
RESET_SEPARATOR = "\n\n[NeuralBridge: the text above was withdrawn; replacement answer:]\n\n"

_encoder = msgspec.json.Encoder()


class _Chunks:
    """Builds the chunks of one completion."""

    def __init__(self, request_id: str, model: str) -> None:
        self.id = f"chatcmpl-{request_id}"
        self.model = model
        self.created = int(time.time())

    def event(self, delta: dict[str, str], finish: str | None = None, **extra: object) -> bytes:
        chunk = {
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }  # fmt: skip
        return b"data: " + _encoder.encode(chunk) + b"\n\n"

    def usage_event(self, query: str, answer: str) -> bytes:
        chunk = {
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "choices": [], "usage": usage(query, answer),
        }  # fmt: skip
        return b"data: " + _encoder.encode(chunk) + b"\n\n"


def error_event(error: GatewayError) -> bytes:
    """An in-band error the ``openai`` SDK raises as ``APIError``."""
    body = {"error": {"message": error.message, "type": error.error_type,
                      "param": error.param, "code": error.code}}  # fmt: skip
    return b"data: " + _encoder.encode(body) + b"\n\n"


async def chat_events(
    stream: ReplyStream, first: ProxyDelta | ProxyAnswer, *, model: str, include_usage: bool
) -> AsyncIterator[bytes]:
    """The SSE body for ``stream`` whose first reply, ``first``, was already read."""
    chunks = _Chunks(stream.request.request_id, model)
    yield chunks.event({"role": "assistant", "content": ""})
    since_reset = ""
    reply: ProxyDelta | ProxyAnswer = first
    try:
        while isinstance(reply, ProxyDelta):
            if reply.reset and since_reset:
                yield chunks.event({"content": RESET_SEPARATOR})
                since_reset = ""
            if reply.text:
                since_reset += reply.text
                yield chunks.event({"content": reply.text})
            reply = await anext(stream)
    except GatewayError as exc:
        log.info("chat_stream_failed", error_class=exc.code, status=exc.status_code)
        yield error_event(exc)
        return
    finally:
        await stream.close()
    tail = _missing_tail(since_reset, reply.answer)
    if tail:
        yield chunks.event({"content": tail})
    yield chunks.event({}, "stop", neuralbridge=extras(reply))
    if include_usage:
        yield chunks.usage_event(stream.request.query, reply.answer)
    yield b"data: [DONE]\n\n"


def _missing_tail(streamed: str, final: str) -> str:
    """What to send so the client ends with the final answer (see the module docstring)."""
    if streamed == final:
        return ""
    if final.startswith(streamed):
        return final[len(streamed) :]
    return RESET_SEPARATOR + final if streamed else final
