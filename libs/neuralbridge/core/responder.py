"""The one way a service answers a NATS request/reply subject.

:func:`serve` subscribes a handler (through :meth:`Bus.subscribe`, so it
survives a replaced client) and for every request: decodes the body into the
request type, awaits the handler, encodes its reply and sends it. Whatever goes
wrong is answered too, with an :class:`~neuralbridge.messages.replies.ErrorReply`
and the header ``Nb-Error`` naming the error class, so a caller never waits for
a timeout:

* a body that does not decode → code ``invalid_request``, the field named;
* a :class:`RequestRefusedError` (or a type the subscription lists in
  ``refusals``) → its own code (``refused`` by default) and message;
* a reply larger than the server's payload limit → ``reply_too_large``;
* anything else → ``internal_error``, with the class name only (the exception
  is logged; its text may hold data a caller must not see).

Messages are scrubbed of credential-looking text. Each subject has the
metrics ``nb_requests_total{subject, outcome}`` (``ok``, ``invalid``,
``refused``, ``error``) and ``nb_request_duration_seconds{subject}``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
import structlog
from nats.aio.msg import Msg
from prometheus_client import Counter, Histogram

from neuralbridge.core.bus import Bus, BusSubscription
from neuralbridge.core.errors import NeuralBridgeError, PayloadError
from neuralbridge.core.observability.logs import scrub
from neuralbridge.core.schemas import Message, decode, encode
from neuralbridge.messages.replies import ERROR_HEADER, ErrorReply

__all__ = ["REQUESTS", "REQUEST_DURATION", "RequestRefusedError", "serve"]

log = structlog.get_logger()

Req = TypeVar("Req", bound=Message)
Rep = TypeVar("Rep", bound=msgspec.Struct)

REQUESTS = Counter(
    "nb_requests_total",
    "Requests answered per request/reply subject, by outcome (ok, invalid, refused, error).",
    ["subject", "outcome"],
)
REQUEST_DURATION = Histogram(
    "nb_request_duration_seconds",
    "Time from a request's arrival to its reply, per request/reply subject.",
    ["subject"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 120),
)
#: The longest error message a reply carries.
_MAX_MESSAGE = 1000


class RequestRefusedError(NeuralBridgeError):
    """A handler refuses a request; the asker gets ``code`` and the message.

    The message must be safe to show (it is scrubbed of credentials anyway).
    """

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


class _FailedRequestError(Exception):
    """Carries an error reply and its metric outcome out of :func:`_answer`."""

    def __init__(self, reply: ErrorReply, outcome: str) -> None:
        super().__init__(reply.error)
        self.reply, self.outcome = reply, outcome


async def serve(
    bus: Bus,
    subject: str,
    request_type: type[Req],
    handler: Callable[[Req], Awaitable[Rep]],
    *,
    queue: str = "",
    refusals: tuple[type[BaseException], ...] = (),
) -> BusSubscription:
    """Answer ``subject`` with ``handler``; unsubscribe the result to stop.

    Args:
        bus: The service's bus.
        subject: The subject (wildcards allowed; the metric label is this pattern).
        request_type: The struct every request body decodes into.
        handler: Takes the decoded request, returns the reply struct.
        queue: Queue group (one replica answers each request); empty for none.
        refusals: Exception types whose message the asker may read (besides
            :class:`RequestRefusedError`), answered with code ``refused``.
    """

    async def on_request(msg: Msg) -> None:
        started = time.perf_counter()
        headers: dict[str, str] | None = None
        outcome = "ok"
        try:
            body = await _answer(bus, msg, request_type, handler, refusals)
        except _FailedRequestError as failed:
            body, outcome = encode(failed.reply), failed.outcome
            headers = {ERROR_HEADER: failed.reply.error_class}
        REQUESTS.labels(subject, outcome).inc()
        REQUEST_DURATION.labels(subject).observe(time.perf_counter() - started)
        if not msg.reply:
            log.warning("request_without_reply_subject", subject=msg.subject, outcome=outcome)
            return
        try:
            await bus.nc.publish(msg.reply, body, headers=headers)
        except Exception as exc:  # noqa: BLE001 - the asker times out; nothing else to tell
            log.warning("reply_not_sent", subject=msg.subject, error_class=type(exc).__name__)

    return await bus.subscribe(subject, cb=on_request, queue=queue)


async def _answer(
    bus: Bus,
    msg: Msg,
    request_type: type[Req],
    handler: Callable[[Req], Awaitable[Rep]],
    refusals: tuple[type[BaseException], ...],
) -> bytes:
    try:
        request = decode(msg.data or b"{}", request_type)
        body = encode(await handler(request))
    except PayloadError as exc:
        raise _FailedRequestError(_error(exc, "invalid_request"), "invalid") from None
    except RequestRefusedError as exc:
        raise _FailedRequestError(_error(exc, exc.code), "refused") from None
    except refusals as exc:
        raise _FailedRequestError(_error(exc, "refused"), "refused") from None
    except Exception as exc:
        log.exception("request_failed", subject=msg.subject, error_class=type(exc).__name__)
        reply = ErrorReply(
            error=f"internal error answering {msg.subject} ({type(exc).__name__})",
            code="internal_error", error_class=type(exc).__name__,
        )  # fmt: skip
        raise _FailedRequestError(reply, "error") from None
    limit = bus.nc.max_payload
    if len(body) > limit:
        reply = ErrorReply(
            error=f"the reply ({len(body)} bytes) exceeds the NATS payload limit ({limit} bytes);"
            " ask for less per request",
            code="reply_too_large", error_class="ReplyTooLargeError",
        )  # fmt: skip
        raise _FailedRequestError(reply, "error")
    return body


def _error(exc: BaseException, code: str) -> ErrorReply:
    message = scrub(str(exc) or type(exc).__name__)[:_MAX_MESSAGE]
    return ErrorReply(error=message, code=code, error_class=type(exc).__name__)
