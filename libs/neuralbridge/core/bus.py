"""The NATS connection every service shares: connect, publish, reconnect events.

:meth:`Bus.connect` retries the first connection for a bounded time (a service
may start before its NATS server; refused credentials end it at once) and then
reconnects forever with a short wait. A server ``-ERR`` that nats-py would end
the connection for (``maximum control line exceeded``) reconnects instead; a
client that still ends up closed (say, its credentials were revoked) is replaced
by a new one, with backoff, until :meth:`Bus.close`.

After a replacement ``bus.nc`` is the new client and ``bus.js`` (the same
context, so KV and object-store handles made from it keep working) talks through
it. Core subscriptions made with :meth:`Bus.subscribe` are made again on the new
client; anything else subscribed on ``bus.nc`` re-subscribes in a listener
registered with :meth:`Bus.on_reconnect`, which is called after every
reconnection and every replacement.

Publishing goes through JetStream and waits for the PubAck; ``msg_id`` becomes
``Nats-Msg-Id`` so that a repeated publish inside the stream's duplicate window
is one message. The current trace context is injected into every publish.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry import trace

from neuralbridge.core.natsconn import (
    CONNECT_ERRORS,
    first_connection,
    is_auth_failure,
    open_client,
    stopped_within,
)
from neuralbridge.core.observability.tracing import inject_headers, tracer, tracing_active
from neuralbridge.core.schemas import Message, encode
from neuralbridge.core.settings import NatsAuth, nats_servers, redact_url

__all__ = ["Bus", "BusSubscription", "MessageHandler", "ReconnectListener"]

log = structlog.get_logger()

ReconnectListener = Callable[[], Awaitable[None]]
MessageHandler = Callable[[Msg], Awaitable[None]]


class BusSubscription:
    """A core NATS subscription that :class:`Bus` makes again on a new client.

    Made by :meth:`Bus.subscribe`; stop it with :meth:`unsubscribe` or :meth:`drain`.
    """

    def __init__(self, bus: Bus, subject: str, queue: str, cb: MessageHandler) -> None:
        self.subject = subject
        self.queue = queue
        self._bus = bus
        self._cb = cb
        self._sub: Subscription | None = None

    async def _open(self) -> None:
        self._sub = await self._bus.nc.subscribe(self.subject, queue=self.queue, cb=self._cb)

    async def unsubscribe(self) -> None:
        """Stop receiving at once."""
        await self._stop(drain=False)

    async def drain(self) -> None:
        """Stop receiving after the messages already delivered are handled."""
        await self._stop(drain=True)

    async def _stop(self, *, drain: bool) -> None:
        self._bus._forget(self)
        sub, self._sub = self._sub, None
        if sub is None or self._bus.nc.is_closed:
            return
        if drain:
            await sub.drain()  # type: ignore[no-untyped-call]
        else:
            await sub.unsubscribe()


class Bus:
    """A connected NATS client with its JetStream context.

    Build it with :meth:`connect`; close it with :meth:`close`.
    """

    def __init__(self, nc: Client, *, timeout: float = 5.0) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=timeout)
        self._listeners: list[ReconnectListener] = []
        self._subscriptions: list[BusSubscription] = []
        self._closing = False
        self._reopen: Callable[[], Awaitable[Client]] | None = None
        self._renewal: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        name: str,
        connect_within: float = 30.0,
        timeout: float = 5.0,
        auth: NatsAuth | None = None,
        stop: asyncio.Event | None = None,
    ) -> Bus:
        """Connect to ``url`` (one server or several, comma-separated).

        Args:
            url: ``NATS_URL``.
            name: The client name the server shows.
            connect_within: Seconds to keep retrying the first connection.
            timeout: Default seconds of a JetStream API call.
            auth: Credentials (``NATS_USER``/``NATS_PASSWORD``, ``NATS_TOKEN``
                or ``NATS_CREDS_FILE``); none by default.
            stop: When set (SIGTERM), the first-connection retries end at once.

        Raises:
            ConfigError: ``url`` is malformed, the credentials were refused, or
                no server answered within ``connect_within`` seconds.
            ConnectionAbortedError: ``stop`` was set before a server answered.
        """
        credentials = auth or NatsAuth()
        servers = nats_servers(url)
        shown = redact_url(url)
        owner: list[Bus] = []

        async def attempt() -> Client:
            return await open_client(
                servers, name=name, auth=credentials, events=lambda nc: _events(owner, nc, shown)
            )

        nc = await first_connection(
            attempt, shown_url=shown, auth=credentials, within=connect_within, stop=stop
        )
        bus = cls(nc, timeout=timeout)
        bus._reopen = attempt
        owner.append(bus)
        log.info("nats_connected", url=shown, name=name)
        return bus

    async def subscribe(
        self, subject: str, *, cb: MessageHandler, queue: str = ""
    ) -> BusSubscription:
        """Subscribe ``cb`` to ``subject``; it survives the client being replaced.

        Args:
            subject: Core NATS subject (wildcards allowed).
            cb: Called with every message.
            queue: Queue group name; empty for none.
        """
        subscription = BusSubscription(self, subject, queue, cb)
        await subscription._open()
        self._subscriptions.append(subscription)
        return subscription

    def _forget(self, subscription: BusSubscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def on_reconnect(self, listener: ReconnectListener) -> None:
        """Call ``listener`` after every reconnection (pull loops re-arm on it)."""
        self._listeners.append(listener)

    def remove_reconnect_listener(self, listener: ReconnectListener) -> None:
        """Stop calling ``listener`` on reconnection."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def _notify_reconnected(self) -> None:
        for listener in list(self._listeners):
            try:
                await listener()
            except Exception:
                log.exception("reconnect_listener_failed")

    @property
    def connected(self) -> bool:
        """Whether the connection is up right now."""
        return bool(self.nc.is_connected)

    async def ping(self) -> None:
        """Round-trip to the server; raises when it does not answer (readiness)."""
        if not self.nc.is_connected:
            raise ConnectionError("not connected to NATS")
        await self.nc.flush(timeout=2)

    async def publish(
        self,
        subject: str,
        payload: bytes | Message,
        *,
        msg_id: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> PubAck:
        """Publish to JetStream and wait for the PubAck.

        Args:
            subject: Subject of a stream.
            payload: Raw bytes (sent as is) or a message struct (JSON-encoded).
            msg_id: Dedup identity, sent as ``Nats-Msg-Id``.
            headers: Extra headers; custom names must not start with ``Nats-``.
            timeout: Seconds to wait for the PubAck.
        """
        data = payload if isinstance(payload, bytes) else encode(payload)
        if not tracing_active():
            return await self.js.publish(
                subject, data, timeout=timeout, headers=_headers(headers, msg_id)
            )
        with tracer().start_as_current_span(
            f"publish {subject}", kind=trace.SpanKind.PRODUCER
        ) as span:
            span.set_attribute("messaging.destination.name", subject)
            ack = await self.js.publish(
                subject, data, timeout=timeout, headers=_headers(headers, msg_id)
            )
            span.set_attribute("messaging.message.id", f"{ack.stream}:{ack.seq}")
            return ack

    async def close(self) -> None:
        """Close the connection (pending publishes are flushed first)."""
        self._closing = True
        renewal, self._renewal = self._renewal, None
        if renewal is not None:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
        if not self.nc.is_closed:
            await self.nc.close()

    def _client_closed(self, nc: Client) -> None:
        """``nc`` closed: unless we are closing, replace it with a new client."""
        if self._closing or nc is not self.nc or self._reopen is None:
            return
        if self._renewal is not None and not self._renewal.done():
            return
        log.warning("nats_connection_closed_renewing")
        self._renewal = asyncio.create_task(self._renew(self._reopen), name="nats-renew")

    async def _renew(self, reopen: Callable[[], Awaitable[Client]]) -> None:
        wait = 0.2
        while not self._closing:
            try:
                nc = await reopen()
            except CONNECT_ERRORS as exc:
                log.warning(
                    "nats_renew_failed",
                    error_type=type(exc).__name__,
                    credentials_refused=is_auth_failure(exc),
                    retry_in=wait,
                )
                await stopped_within(None, wait)
                wait = min(wait * 2, 5.0)
                continue
            if self._closing:
                await nc.close()
                return
            await self._adopt(nc)
            return

    async def _adopt(self, nc: Client) -> None:
        """Make ``nc`` the bus's client: JetStream, subscriptions, listeners follow."""
        self.nc = nc
        # Handles made from ``self.js`` (KV buckets, object stores) keep this
        # context: point it at the new client rather than making a new one.
        self.js._nc = nc
        self.js._async_reply_prefix = None
        for subscription in list(self._subscriptions):
            try:
                await subscription._open()
            except Exception:
                log.exception("resubscribe_failed", subject=subscription.subject)
        log.info("nats_connection_renewed", subscriptions=len(self._subscriptions))
        await self._notify_reconnected()


def _events(owner: list[Bus], nc: Client, shown_url: str) -> dict[str, Any]:
    """The callbacks of one client; they act only while it is the bus's client."""

    def current() -> Bus | None:
        return owner[0] if owner and owner[0].nc is nc else None

    async def reconnected() -> None:
        log.info("nats_reconnected", url=shown_url)
        bus = current()
        if bus is not None:
            await bus._notify_reconnected()

    # Before the first connection (no bus yet) the bounded retry speaks for itself:
    # one line when it gives up, not a warning per attempt.
    async def disconnected() -> None:
        bus = current()
        if bus is not None and not bus._closing:
            log.warning("nats_disconnected", url=shown_url)

    async def closed() -> None:
        bus = current()
        if bus is not None:
            bus._client_closed(nc)

    async def error(exc: Exception) -> None:
        if current() is not None:
            log.warning("nats_error", error=str(exc)[:200], error_type=type(exc).__name__)

    return {
        "reconnected_cb": reconnected,
        "disconnected_cb": disconnected,
        "closed_cb": closed,
        "error_cb": error,
    }


def _headers(extra: dict[str, str] | None, msg_id: str | None) -> dict[str, str]:
    """Extra headers + the current trace context + ``Nats-Msg-Id``."""
    headers = inject_headers(dict(extra or {}))
    if msg_id is not None:
        headers["Nats-Msg-Id"] = msg_id
    return headers
