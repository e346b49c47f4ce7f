"""Replies to the gateway on the request's core-NATS ``reply_to`` subject.

Deltas are redacted before they leave: text is held back until a sentence or
line boundary, and each complete segment goes through PII redaction, so an
email or card number split across tokens is never streamed in clear. The final
answer (or failure) is written on the same NATS connection as the JetStream ack
that follows it, and one connection keeps its writes in order, so a request is
never acked ahead of its last reply — without a flush round trip per request.
Sequence numbers are documented in :mod:`neuralbridge.messages.proxy`.
"""

from __future__ import annotations

import re

import msgspec
from nats.aio.client import Client

from neuralbridge.core.observability.tracing import inject_headers
from neuralbridge.core.schemas import Message, encode
from neuralbridge.guardrails import redact
from neuralbridge.messages.proxy import (
    SEQ_STRIDE,
    ProxyAnswer,
    ProxyDelta,
    ProxyFailure,
    ProxyRequest,
)

__all__ = ["Replier"]

_BOUNDARY = re.compile(r"[.!?]\s|\n")


class Replier:
    """Send one request's replies, in order.

    Args:
        nc: The NATS connection.
        request: The request being answered.
        attempt: Its delivery number (1 for the first).
    """

    def __init__(self, nc: Client, request: ProxyRequest, *, attempt: int) -> None:
        self._nc = nc
        self._request = request
        self._seq = (attempt - 1) * SEQ_STRIDE
        self._pending = ""
        #: Whether deltas were sent since the last reset.
        self.streamed = False
        #: Whether the final answer was sent (nothing follows it).
        self.answered = False

    async def delta(self, text: str) -> None:
        """Stream ``text``, redacted, once a complete segment is available."""
        self._pending += text
        cut = _last_boundary(self._pending)
        if cut:
            ready, self._pending = self._pending[:cut], self._pending[cut:]
            await self._send_delta(redact(ready).text)

    async def flush(self) -> None:
        """Send what is held back (the stream ended)."""
        if self._pending:
            ready, self._pending = self._pending, ""
            await self._send_delta(redact(ready).text)

    async def reset(self, *, always: bool = False) -> None:
        """Drop held-back text; tell the client to discard what was streamed (if any)."""
        self._pending = ""
        if not (self.streamed or always):
            return
        self.streamed = False
        await self._send(
            ProxyDelta(request_id=self._request.request_id, seq=self._next(), text="", reset=True)
        )

    async def answer(self, answer: ProxyAnswer) -> None:
        """Send the final answer with the next sequence number."""
        await self._send(_with_seq(answer, self._next()))
        self.answered = True

    async def fail(self, error: str, error_class: str) -> None:
        """Send the final failure; nothing once the answer was sent.

        A failure after the answer (storing its query log, say) is the
        pipeline's to retry, not news for the client, who has its answer.
        """
        if self.answered:
            return
        failure = ProxyFailure(
            request_id=self._request.request_id, seq=self._next(), error=error,
            error_class=error_class,
        )  # fmt: skip
        await self._send(failure)

    async def _send_delta(self, text: str) -> None:
        if text:
            self.streamed = True
            delta = ProxyDelta(request_id=self._request.request_id, seq=self._next(), text=text)
            await self._send(delta)

    async def _send(self, message: Message) -> None:
        await self._nc.publish(self._request.reply_to, encode(message), headers=inject_headers({}))

    def _next(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq


def _last_boundary(text: str) -> int:
    """The offset just past the last sentence/line boundary in ``text`` (0: none)."""
    end = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
    return end


def _with_seq(answer: ProxyAnswer, seq: int) -> ProxyAnswer:
    return msgspec.structs.replace(answer, seq=seq)
