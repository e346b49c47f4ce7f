"""Opening nats-py clients that come back after the server drops them.

nats-py closes a connection for good on every ``-ERR`` the server sends except
stale-connection and permission errors: one request to a subject longer than
the server's control line (4 KiB) ended in ``maximum control line exceeded``
and a client that never reconnected. :class:`RecoveringClient` turns such an
error into nats-py's own reconnection, which keeps every subscription; what
still closes a client (an authorization error, a close from outside) is left to
:class:`~neuralbridge.core.bus.Bus`, which opens a new one.

nats-py's own first connection retries forever when reconnection is on, so
each attempt here runs with reconnection off and a single retry per server:
each failure comes back to the caller (bounded retries, credentials refused at
once). Once connected, the client reconnects forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
import structlog
from nats.aio.client import Client
from nats.protocol.parser import AUTHORIZATION_VIOLATION, PERMISSIONS_ERR, STALE_CONNECTION

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.settings import NatsAuth

__all__ = ["ClientEvents", "RecoveringClient", "first_connection", "is_auth_failure", "open_client"]

log = structlog.get_logger()

ClientEvents = Callable[[Client], dict[str, Any]]
"""Builds the ``*_cb`` keyword arguments of ``Client.connect`` for one client."""

CONNECT_ERRORS = (OSError, nats.errors.Error, TimeoutError)
CONTROL_LINE_EXCEEDED = "maximum control line exceeded"
MAX_CONTROL_LINE = 4096  # nats-server's default max_control_line


class RecoveringClient(Client):
    """nats-py's client, reconnecting where nats-py would close for good."""

    async def _process_err(self, err_msg: str) -> None:
        keeps_nats_handling = (
            self.is_connecting
            or STALE_CONNECTION in err_msg
            or AUTHORIZATION_VIOLATION in err_msg
            or PERMISSIONS_ERR in err_msg
        )
        if keeps_nats_handling:
            await super()._process_err(err_msg)
            return
        reason = err_msg.strip().strip("'")[:120]
        log.warning("nats_server_error_reconnecting", error=reason)
        if CONTROL_LINE_EXCEEDED in err_msg:
            self._drop_oversized_subscriptions()
        await self._process_op_err(nats.errors.Error(f"nats: {reason}"))

    def _drop_oversized_subscriptions(self) -> None:
        """Forget subscriptions whose SUB line the server refuses.

        nats-py sends every subscription again after reconnecting: one whose
        subject is over the server's control line would close each new connection.
        """
        for sid, sub in list(self._subs.items()):
            line = len(f"SUB {sub.subject} {sub.queue} {sid}\r\n")
            if line > MAX_CONTROL_LINE:
                self._remove_sub(sid)
                sub._stop_processing()
                log.warning("nats_subscription_dropped", subject_length=len(sub.subject))


async def open_client(
    servers: list[str], *, name: str, auth: NatsAuth, events: ClientEvents
) -> Client:
    """Connect one new client (one attempt); it reconnects forever afterwards.

    Raises:
        OSError, nats.errors.Error, TimeoutError: the attempt failed.
    """
    nc = RecoveringClient()
    try:
        await nc.connect(
            servers=servers,
            name=name,
            connect_timeout=2,
            allow_reconnect=False,
            reconnect_time_wait=1,
            max_reconnect_attempts=1,  # this attempt tries each server at most twice
            ping_interval=10,
            max_outstanding_pings=3,
            **events(nc),
            **auth.connect_options(),
        )
    except BaseException:
        if not nc.is_closed:
            await _close_quietly(nc)
        raise
    nc.options["allow_reconnect"] = True
    nc.options["max_reconnect_attempts"] = -1
    return nc


def is_auth_failure(exc: BaseException) -> bool:
    """Whether the server refused the credentials (not worth retrying)."""
    text = str(exc).lower()
    return isinstance(exc, nats.errors.AuthorizationError) or any(
        word in text for word in ("authorization violation", "authentication")
    )


async def first_connection(
    attempt: Callable[[], Awaitable[Client]],
    *,
    shown_url: str,
    auth: NatsAuth,
    within: float,
    stop: asyncio.Event | None,
) -> Client:
    """Retry ``attempt`` with backoff for up to ``within`` seconds.

    Raises:
        ConfigError: the credentials were refused, or no server answered in time.
        ConnectionAbortedError: ``stop`` was set first.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    wait = 0.2
    while True:
        try:
            return await attempt()
        except CONNECT_ERRORS as exc:
            if is_auth_failure(exc):
                raise ConfigError(
                    f"NATS_URL={shown_url!r}: NATS refused the credentials ({auth.describe()})"
                ) from None
            if loop.time() + wait > deadline:
                raise ConfigError(
                    f"NATS_URL={shown_url!r}: no NATS server answered within "
                    f"{within:.0f}s ({type(exc).__name__})"
                ) from None
        if await stopped_within(stop, wait):
            raise ConnectionAbortedError("stopped before a NATS server answered")
        wait = min(wait * 2, 2.0)


async def stopped_within(stop: asyncio.Event | None, seconds: float) -> bool:
    """Sleep ``seconds``, or less if ``stop`` is set; return whether it was."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        return False
    return True


async def _close_quietly(nc: Client) -> None:
    try:
        await nc.close()
    except Exception as exc:  # noqa: BLE001 - a half-open client may fail to close; it is dropped
        log.debug("nats_close_failed", error_type=type(exc).__name__)
