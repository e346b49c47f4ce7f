"""Hand a question to the proxy pipeline over JetStream and read its replies.

:meth:`ProxyClient.open` registers a reply subject *before* publishing the
:class:`ProxyRequest` to ``PROXY_REQUESTS`` (``Nats-Msg-Id`` = request id, so a
repeated publish is one request), then :class:`ReplyStream` yields the replies
of that request. The gateway subscribes once, to ``<inbox>.*``, and routes each
reply by its last token (one subscription per process, not one SUB and UNSUB
per request); :class:`ProxyDelta` items and, last, the :class:`ProxyAnswer`.
A :class:`ProxyFailure` is raised as the matching
:class:`~neuralbridge.gateway.errors.GatewayError`; no final reply by the
deadline (plus a short grace for the pipeline's own ``DeadlineExceeded``) is
:class:`~neuralbridge.gateway.errors.UpstreamTimeoutError`.

Replies are deduplicated by ``seq``; once a reply of delivery attempt *n*
(``seq // SEQ_STRIDE``) is seen, late replies of earlier attempts are dropped,
so two replicas never interleave.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
import uuid
from collections.abc import Callable
from typing import Literal

import msgspec
import nats.errors
import structlog
from nats.aio.msg import Msg

from neuralbridge.core.bus import Bus, BusSubscription
from neuralbridge.core.errors import PayloadError
from neuralbridge.core.schemas import decode
from neuralbridge.core.subjects import proxy_request_subject
from neuralbridge.gateway.access import Access, Caller
from neuralbridge.gateway.errors import (
    UpstreamTimeoutError,
    UpstreamUnavailableError,
    error_for_failure,
)
from neuralbridge.gateway.replicas import PipelineReplicas
from neuralbridge.messages.proxy import (
    SEQ_STRIDE,
    HistoryMessage,
    ProxyAnswer,
    ProxyDelta,
    ProxyFailure,
    ProxyReply,
    ProxyRequest,
)

__all__ = ["Ask", "ProxyClient", "ReplyStream"]

log = structlog.get_logger()

#: Seconds past the deadline to wait for the pipeline's own DeadlineExceeded reply.
_GRACE = 1.0


class Ask(msgspec.Struct, frozen=True, kw_only=True):
    """One question, as the HTTP layer validated it."""

    query: str
    session_id: str
    provider: Literal["openai", "ollama", "extractive"] | None = None
    model: str | None = None
    temperature: float | None = None
    stream: bool = False
    history: list[HistoryMessage] | None = None


class ReplyStream:
    """The deduplicated replies of one request (see the module docstring).

    Iterate it for deltas and the final answer (iteration stops after it);
    :meth:`close` it when abandoning it earlier.
    """

    def __init__(
        self, inbox: asyncio.Queue[bytes], request: ProxyRequest, forget: Callable[[], None]
    ) -> None:
        self._inbox = inbox
        self._forget = forget
        self.request = request
        self._seen: set[int] = set()
        self._attempt = 0
        self._answered = False
        self._closed = False

    def __aiter__(self) -> ReplyStream:
        return self

    async def __anext__(self) -> ProxyDelta | ProxyAnswer:
        """The next delta or the final answer.

        Raises:
            GatewayError: the pipeline failed the request (mapped by ``error_class``)
                or the deadline passed.
        """
        if self._answered:
            raise StopAsyncIteration
        try:
            reply = await self._next()
        except BaseException:
            await self.close()
            raise
        if isinstance(reply, ProxyFailure):
            await self.close()
            raise error_for_failure(reply)
        if isinstance(reply, ProxyAnswer):
            self._answered = True
            await self.close()
        return reply

    async def answer(self) -> ProxyAnswer:
        """Skip deltas; return the final answer."""
        async for reply in self:
            if isinstance(reply, ProxyAnswer):
                return reply
        raise UpstreamTimeoutError("the request was already answered")

    async def close(self) -> None:
        """Stop listening for this request's replies (idempotent)."""
        if not self._closed:
            self._closed = True
            self._forget()

    async def _next(self) -> ProxyReply:
        """The next reply that is neither a duplicate nor from an older attempt."""
        while True:
            remaining = self.request.deadline + _GRACE - time.time()
            if remaining <= 0:
                raise UpstreamTimeoutError(_timeout_message(self.request), code="DeadlineExceeded")
            try:
                async with asyncio.timeout(remaining):  # no extra task, unlike wait_for
                    data = await self._inbox.get()
            except TimeoutError:
                continue
            try:
                reply: ProxyReply = decode(data, ProxyReply)  # type: ignore[arg-type]
            except PayloadError as exc:
                log.warning("proxy_reply_undecodable", error=str(exc))
                continue
            attempt = reply.seq // SEQ_STRIDE
            if reply.seq in self._seen or attempt < self._attempt:
                continue
            self._seen.add(reply.seq)
            self._attempt = attempt
            return reply


class ProxyClient:
    """Publish requests for the pipeline.

    Args:
        bus: The gateway's NATS connection.
        timeout: Seconds from publish to the request's deadline.
        access: Scopes each request's session to its caller
            (:meth:`~neuralbridge.gateway.access.Access.session_key`) and takes a
            token from that session's rate-limit bucket before it is published.
        replicas: When given, a request is refused with 503 at once while no
            proxy-pipeline replica is alive (:mod:`~neuralbridge.gateway.replicas`).
    """

    def __init__(
        self, bus: Bus, *, timeout: float, access: Access, replicas: PipelineReplicas | None = None
    ) -> None:
        self._bus = bus
        self._timeout = timeout
        self._access = access
        self._replicas = replicas
        self._prefix = bus.nc.new_inbox()
        self._sub: BusSubscription | None = None
        self._subscribing = asyncio.Lock()
        self._waiting: dict[str, asyncio.Queue[bytes]] = {}
        self._numbers = itertools.count()

    async def open(self, ask: Ask, caller: Caller) -> ReplyStream:
        """Register a reply subject, publish the request, return its reply stream.

        The request carries the caller's opaque session id, never ``ask.session_id``.

        Raises:
            RateLimitedError: the caller's session is over its rate limit.
            UpstreamUnavailableError: the request could not be stored in ``PROXY_REQUESTS``.
        """
        if self._replicas is not None and not self._replicas.alive():
            raise UpstreamUnavailableError(
                "no proxy-pipeline replica is running (none sent a heartbeat lately)",
                code="no_pipeline_replica",
            )
        session = self._access.session_key(caller, ask.session_id)
        self._access.admit_session(session)
        if self._sub is None:
            await self._subscribe()
        token = str(next(self._numbers))
        request = ProxyRequest(
            request_id=str(uuid.uuid4()), session_id=session, query=ask.query,
            provider=ask.provider, model=ask.model, temperature=ask.temperature,
            stream=ask.stream, reply_to=f"{self._prefix}.{token}",
            deadline=time.time() + self._timeout, history=ask.history,
        )  # fmt: skip
        inbox = self._waiting[token] = asyncio.Queue()
        try:
            await self._bus.publish(
                proxy_request_subject(session), request, msg_id=request.request_id
            )
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            self._waiting.pop(token, None)
            raise UpstreamUnavailableError(
                f"the request could not be queued for the pipeline ({type(exc).__name__})"
            ) from None
        structlog.contextvars.bind_contextvars(request_id=request.request_id)
        return ReplyStream(inbox, request, functools.partial(self._forget, token))

    def _forget(self, token: str) -> None:
        self._waiting.pop(token, None)

    async def _subscribe(self) -> None:
        async with self._subscribing:
            if self._sub is None:
                self._sub = await self._bus.subscribe(f"{self._prefix}.*", cb=self._route)

    async def _route(self, msg: Msg) -> None:
        inbox = self._waiting.get(msg.subject.rpartition(".")[2])
        if inbox is not None:  # else: a late reply to a request already answered or abandoned
            inbox.put_nowait(msg.data)

    async def answer(self, ask: Ask, caller: Caller) -> ProxyAnswer:
        """Publish ``ask`` for ``caller`` and wait for its final answer (deltas are ignored)."""
        stream = await self.open(ask, caller)
        return await stream.answer()


def _timeout_message(request: ProxyRequest) -> str:
    return f"no answer before the request's deadline (request_id {request.request_id})"
