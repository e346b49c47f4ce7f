"""Asking a service over NATS request/reply, and the errors an asker sees.

::

    ClientError                     base of everything this package raises
    ├── ServiceUnavailableError     no responder, or none answered in time (``timed_out``)
    ├── RemoteError                 the service answered with an ErrorReply (``code``)
    └── StateUnavailableError       a KV bucket or object store does not exist yet
"""

from __future__ import annotations

from typing import TypeVar

from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import NeuralBridgeError, PayloadError
from neuralbridge.core.schemas import Message, decode, encode
from neuralbridge.messages.replies import ERROR_HEADER, ErrorReply

__all__ = ["ClientError", "RemoteError", "ServiceUnavailableError", "StateUnavailableError", "ask"]

R = TypeVar("R", bound=Message)


class ClientError(NeuralBridgeError):
    """Base of the errors of :mod:`neuralbridge.clients`."""


class ServiceUnavailableError(ClientError):
    """No service answered: none subscribed, or (``timed_out``) none in time."""

    def __init__(self, message: str, *, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class RemoteError(ClientError):
    """The service refused or failed the request; ``code`` says why in one word."""

    def __init__(self, message: str, *, code: str, error_class: str) -> None:
        super().__init__(message)
        self.code = code
        self.error_class = error_class


class StateUnavailableError(ClientError):
    """The KV bucket or object store a service keeps does not exist (it never started)."""


async def ask(
    bus: Bus,
    subject: str,
    request: Message,
    reply_type: type[R],
    *,
    timeout: float,
    service: str = "service",
) -> R:
    """Send ``request`` on ``subject`` and decode the reply as ``reply_type``.

    Args:
        bus: The asker's bus.
        subject: The request/reply subject.
        request: The request struct.
        reply_type: The struct a normal reply decodes into.
        timeout: Seconds to wait for the reply.
        service: Names the service in error messages (``trainer``, ...).

    Raises:
        ServiceUnavailableError: nobody is subscribed, or nobody answered in time.
        RemoteError: the service answered with an error reply, or an unreadable one.
    """
    try:
        msg = await bus.nc.request(subject, encode(request), timeout=timeout)
    except (NoRespondersError, ConnectionClosedError):
        raise ServiceUnavailableError(
            f"no {service} answered (is it running?)", timed_out=False
        ) from None
    except NatsTimeoutError:
        raise ServiceUnavailableError(
            f"the {service} did not answer within {timeout:g}s", timed_out=True
        ) from None
    try:
        if msg.headers and ERROR_HEADER in msg.headers:
            error = decode(msg.data, ErrorReply)
            raise RemoteError(error.error, code=error.code, error_class=error.error_class)
        return decode(msg.data, reply_type)
    except PayloadError as exc:
        raise RemoteError(
            f"unreadable reply from the {service} on {subject}: {exc}",
            code="bad_reply", error_class=type(exc).__name__,
        ) from None  # fmt: skip
