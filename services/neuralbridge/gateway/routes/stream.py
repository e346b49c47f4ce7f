"""``/api/proxy/stream``: answers streamed over a WebSocket, token by token (issue 4).

**Connecting.** When API keys are on, send ``Authorization: Bearer <key>`` on
the upgrade request or, where the client cannot set headers (browsers), add
``?token=<key>`` to the URL (the header wins when both are given; the gateway
never logs URLs' query strings, but proxies in front of it may). The key is
checked once the connection is accepted: a missing or unknown key gets an
``error`` event (``status`` 401) and the connection is closed with code
**4401**. Keys off: anyone may connect.

**Asking.** Each client message is a JSON object (text or binary frame) with
the body of ``POST /api/proxy/query``: ``{query, session_id, provider?, model?,
temperature?}``. Questions are answered one at a time, in the order sent; a
message sent while one is answered is read after it. Each question takes a
token from the caller's and the session's rate-limit buckets, as a POST does.

**Events** (JSON text frames, ``type`` first), for each question::

    {"type": "delta", "request_id", "text"}   zero or more, as tokens arrive
    {"type": "reset", "request_id"}            discard the text so far: the pipeline
                                               fell back; deltas of the new answer follow
    then exactly one of
    {"type": "answer", ...}                    the POST's answer fields (``answer``,
                                               ``sources``, ``provider``, ``model``,
                                               ``cached``, ``confidence``, ``fallback_*``,
                                               ``guardrails``, ``request_id``,
                                               ``latency_ms``); ``answer`` is authoritative
    {"type": "error", "request_id", "error": {message, type, param, code}, "status"}
                                               ``status`` is the HTTP status the POST would
                                               give (400, 413, 422, 429, 502, 503, 504, 500);
                                               ``request_id`` is null when the question
                                               never reached the pipeline

A cached answer comes as an ``answer`` with no deltas. A malformed message
(not JSON, invalid UTF-8 in a binary frame, nested too deeply, a bad or unknown
field, over ``GATEWAY_MAX_BODY_BYTES``) gets an ``error`` naming the problem
(``param`` is the field); the connection stays open for the next question. The
server closes the connection only on a 401, and the WebSocket protocol itself
closes it with 1007 on a *text* frame that is not UTF-8 (RFC 6455, 8.1).
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect

from neuralbridge.gateway.access import Access, Caller
from neuralbridge.gateway.errors import GatewayError, UnauthenticatedError, UpstreamFailedError
from neuralbridge.gateway.proxy_client import ProxyClient, ReplyStream
from neuralbridge.gateway.queries import QueryInput
from neuralbridge.gateway.responses import ErrorDetail
from neuralbridge.gateway.ws_wire import (
    AnswerEvent,
    DeltaEvent,
    ErrorEvent,
    ResetEvent,
    StreamEvent,
    encode_event,
    error_event,
    read_question,
)
from neuralbridge.messages.proxy import ProxyAnswer

__all__ = ["UNAUTHENTICATED_CLOSE", "proxy_stream"]

log = structlog.get_logger()

#: Close code after a 401 ``error`` event (4000 + the HTTP status, by convention).
UNAUTHENTICATED_CLOSE = 4401

_Socket = WebSocket[Any, Any, Any]


@websocket("/api/proxy/stream")
async def proxy_stream(
    socket: _Socket,
    proxy: NamedDependency[ProxyClient],
    access: NamedDependency[Access],
    max_body_bytes: NamedDependency[int],
) -> None:
    """Answer each question sent on the socket (see the module docstring)."""
    await socket.accept()
    try:
        caller = _identify(socket, access)
    except UnauthenticatedError as exc:
        log.info("ws_refused", code=exc.code)
        await _send(socket, error_event(exc))
        await socket.close(code=UNAUTHENTICATED_CLOSE, reason=exc.code or "unauthenticated")
        return
    asked = 0
    try:
        while True:
            question = read_question(await _receive(socket), max_bytes=max_body_bytes)
            if isinstance(question, ErrorEvent):
                log.info("ws_message_invalid", status=question.status, code=question.error.code)
                await _send(socket, question)
                continue
            asked += 1
            await _answer(socket, question, caller=caller, proxy=proxy, access=access)
    except WebSocketDisconnect:
        log.info("ws_closed", questions=asked)


def _identify(socket: _Socket, access: Access) -> Caller:
    """The caller, from the upgrade's ``Authorization`` header or ``token`` parameter."""
    authorization = socket.headers.get("authorization")
    token = socket.query_params.get("token")
    if authorization is None and token:
        authorization = f"Bearer {token}"
    return access.identify(authorization, socket.client.host if socket.client else "unknown")


async def _receive(socket: _Socket) -> str | bytes:
    """The next message's payload, text or binary.

    Raises:
        WebSocketDisconnect: the client closed the connection.
    """
    event = await socket.receive()
    if event["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(detail="client closed the connection", code=event["code"])
    data = event.get("bytes") or event.get("text")
    return data if isinstance(data, str | bytes) else b""


async def _send(socket: _Socket, event: StreamEvent) -> None:
    """Send ``event``; a socket the client closed is :class:`WebSocketDisconnect`."""
    try:
        await socket.send_data(encode_event(event))
    except OSError as exc:  # uvicorn's ClientDisconnected
        raise WebSocketDisconnect(detail="client closed the connection") from exc


async def _answer(
    socket: _Socket, question: QueryInput, *, caller: Caller, proxy: ProxyClient, access: Access
) -> None:
    """Stream one question's deltas, then its answer or error event."""
    started = time.monotonic()
    request_id: str | None = None
    event: AnswerEvent | ErrorEvent
    try:
        access.admit_caller(caller)
        stream = await proxy.open(question.to_ask(stream=True), caller)  # admits the session
        request_id = stream.request.request_id
        answer = await _relay(socket, stream)
        latency_ms = round((time.monotonic() - started) * 1000, 2)
        event = AnswerEvent.from_answer(answer, latency_ms=latency_ms)
    except WebSocketDisconnect:
        raise
    except GatewayError as exc:
        event = error_event(exc, request_id)
    except Exception as exc:
        log.exception("ws_question_crashed", error_class=type(exc).__name__)
        detail = ErrorDetail(message="internal error", type="server_error", code="internal_error")
        event = ErrorEvent(request_id=request_id, error=detail, status=500)
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    log.info(
        "ws_question", request_id=request_id,
        status=200 if isinstance(event, AnswerEvent) else event.status,
        duration_ms=round((time.monotonic() - started) * 1000, 2),
    )  # fmt: skip
    await _send(socket, event)


async def _relay(socket: _Socket, stream: ReplyStream) -> ProxyAnswer:
    """Send the deltas (and resets) of ``stream``; return its final answer."""
    request_id = stream.request.request_id
    streamed = False
    try:
        async for reply in stream:
            if isinstance(reply, ProxyAnswer):
                return reply
            if reply.reset and streamed:
                await _send(socket, ResetEvent(request_id=request_id))
                streamed = False
            if reply.text:
                await _send(socket, DeltaEvent(request_id=request_id, text=reply.text))
                streamed = True
    finally:
        await stream.close()
    raise UpstreamFailedError(f"the replies ended without an answer (request_id {request_id})")
