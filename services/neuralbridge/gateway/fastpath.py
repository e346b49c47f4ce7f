"""The two question routes, answered without Litestar's per-request machinery.

``POST /v1/chat/completions`` (not streamed) and ``POST /api/proxy/query`` carry
nearly all of the gateway's traffic. On a cache hit the pipeline's share of the
answer is about 0.1 ms, while Litestar's routing, kwargs model, before-request
hook, signature model and response object cost several times that. This ASGI
wrapper answers those two routes itself, with the same decoding (msgspec into
the route's own request struct), the same checks (:class:`~.access.Access`) and
the same response body, and hands everything else to the Litestar app.

It takes a request only when it can answer it. Up to its first side effect (the
caller's rate-limit token) it gives up on anything unusual — a missing or bad
key, a body over ``GATEWAY_MAX_BODY_BYTES``, malformed JSON, a field that fails
validation, ``stream: true``, an exhausted rate limit — and passes the request to
Litestar with the body it has read replayed. So every refusal keeps a single
implementation (Litestar's route, hook and exception handlers), and the OpenAPI
document still describes both routes. After that point it answers: the
pipeline's errors become the same error responses as in
:mod:`~.responses`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPRequestEvent,
    HTTPScope,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from neuralbridge.gateway.access import Access, Caller
from neuralbridge.gateway.errors import GatewayError
from neuralbridge.gateway.openai_wire import ChatRequest, completion
from neuralbridge.gateway.proxy_client import ProxyClient
from neuralbridge.gateway.queries import QueryAnswer, QueryInput
from neuralbridge.gateway.responses import (
    ErrorBody,
    gateway_error_body,
    send_json,
    unexpected_error_body,
)

__all__ = ["fast_routes"]

_chat_decoder = msgspec.json.Decoder(ChatRequest)
_query_decoder = msgspec.json.Decoder(QueryInput)

#: What makes the fast path give a body up: Litestar's route says what is wrong with it
#: (invalid UTF-8 and nesting past the decoder's limit are not msgspec errors).
_UNREADABLE = (msgspec.MsgspecError, GatewayError, UnicodeDecodeError, RecursionError)

#: An answer to send: (status, body struct, extra headers).
Reply = tuple[int, Any, dict[str, str]]
#: What answers a request the fast path has taken; ``None``: it gives the request up.
Answer = Callable[[], Awaitable[Reply]] | None
#: A request body's chunks, and whether all of it was read (False: over the limit).
_Body = tuple[list[bytes], bool]


class _Routes:
    """The fast handlers, bound to the gateway's parts."""

    def __init__(self, proxy: ProxyClient, access: Access, max_body_bytes: int) -> None:
        self._proxy = proxy
        self._access = access
        self._max_body = max_body_bytes

    def admit(self, scope: HTTPScope) -> Caller | None:
        """Identify the caller and take its token; None: refused (Litestar will say why)."""
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        client = scope.get("client")
        try:
            caller = self._access.identify(authorization, client[0] if client else "unknown")
            self._access.admit_caller(caller)
        except GatewayError:
            return None
        return caller

    def chat(self, scope: HTTPScope, body: bytes) -> Answer:
        """Validate and admit a chat completion; what answers it."""
        try:
            request = _chat_decoder.decode(body)
            ask = None if request.stream else request.to_ask()
        except _UNREADABLE:
            return None
        caller = None if ask is None else self.admit(scope)
        if ask is None or caller is None:
            return None

        async def answer() -> Reply:
            return 200, completion(await self._proxy.answer(ask, caller), ask.query), {}

        return answer

    def query(self, scope: HTTPScope, body: bytes) -> Answer:
        """Validate and admit a seed-003 question; what answers it."""
        try:
            ask = _query_decoder.decode(body).to_ask()
        except _UNREADABLE:
            return None
        caller = self.admit(scope)
        if caller is None:
            return None

        async def answer() -> Reply:
            started = time.monotonic()
            reply = await self._proxy.answer(ask, caller)
            latency_ms = round((time.monotonic() - started) * 1000, 2)
            return 200, QueryAnswer.from_answer(reply, latency_ms=latency_ms), {}

        return answer

    async def read_body(self, scope: HTTPScope, receive: Receive) -> _Body | None:
        """The body's chunks and whether all of it was read (False: over the limit).

        ``None``: the client went away first.
        """
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self._max_body:
                    return [], False
                break
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size > self._max_body:
                return chunks, False
            if not message.get("more_body", False):
                return chunks, True


def _replay(chunks: list[bytes], receive: Receive, *, complete: bool) -> Receive:
    """``receive`` that first hands out what was already read."""
    pending = True

    async def replayed() -> ReceiveMessage:
        nonlocal pending
        if pending:
            pending = False
            first: HTTPRequestEvent = {
                "type": "http.request", "body": b"".join(chunks), "more_body": not complete
            }  # fmt: skip
            return first
        return await receive()

    return replayed


def fast_routes(
    app: ASGIApp, *, proxy: ProxyClient, access: Access, max_body_bytes: int
) -> ASGIApp:
    """Wrap the Litestar ``app``: the two question routes answered directly (see the module)."""
    routes = _Routes(proxy, access, max_body_bytes)
    table = {"/v1/chat/completions": routes.chat, "/api/proxy/query": routes.query}

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        handler = table.get(scope["path"])
        if handler is None:
            await app(scope, receive, send)
            return
        read = await routes.read_body(scope, receive)
        if read is None:
            return
        chunks, complete = read
        try:
            answer = handler(scope, b"".join(chunks)) if complete else None
        except Exception as exc:  # noqa: BLE001 - a defect: the same 500 as Litestar's handler
            await send_json(send, 500, unexpected_error_body(exc), {})
            return
        if answer is None:
            await app(scope, _replay(chunks, receive, complete=complete), send)
            return
        try:
            status, body, headers = await answer()
        except GatewayError as exc:
            error: ErrorBody = gateway_error_body(exc)
            status, body, headers = exc.status_code, error, exc.headers()
        except Exception as exc:  # noqa: BLE001 - the same 500 as Litestar's handler
            status, body, headers = 500, unexpected_error_body(exc), {}
        await send_json(send, status, body, headers)

    return asgi
