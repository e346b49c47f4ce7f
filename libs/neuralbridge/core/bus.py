"""The NATS connection every service shares: connect, publish, reconnect events.

:meth:`Bus.connect` retries the first connection (a service may start before
its NATS server) and then reconnects forever with a short wait. Publishing goes
through JetStream and waits for the PubAck; ``msg_id`` becomes ``Nats-Msg-Id``
so that a repeated publish inside the stream's duplicate window is one message.
The current trace context is injected into the headers of every publish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import nats
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry import trace

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.observability.tracing import inject_headers, tracer, tracing_active
from neuralbridge.core.schemas import Message, encode
from neuralbridge.core.settings import redact_url

__all__ = ["Bus", "ReconnectListener"]

log = structlog.get_logger()

ReconnectListener = Callable[[], Awaitable[None]]


class Bus:
    """A connected NATS client with its JetStream context.

    Build it with :meth:`connect`; close it with :meth:`close`.
    """

    def __init__(self, nc: Client, *, timeout: float = 5.0) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=timeout)
        self._listeners: list[ReconnectListener] = []
        self._closing = False

    @classmethod
    async def connect(
        cls, url: str, *, name: str, connect_within: float = 30.0, timeout: float = 5.0
    ) -> Bus:
        """Connect to ``url``, retrying for up to ``connect_within`` seconds.

        Raises:
            ConfigError: no server answered at ``url`` in time.
        """
        bus: Bus | None = None

        async def reconnected() -> None:
            log.info("nats_reconnected", url=redact_url(url))
            if bus is not None:
                await bus._notify_reconnected()

        async def disconnected() -> None:
            if bus is None or not bus._closing:
                log.warning("nats_disconnected", url=redact_url(url))

        async def error(exc: Exception) -> None:
            log.warning("nats_error", error=str(exc), error_type=type(exc).__name__)

        deadline = asyncio.get_running_loop().time() + connect_within
        wait = 0.2
        while True:
            try:
                nc = await nats.connect(
                    url,
                    name=name,
                    connect_timeout=2,
                    reconnect_time_wait=1,
                    max_reconnect_attempts=-1,
                    ping_interval=10,
                    max_outstanding_pings=3,
                    reconnected_cb=reconnected,
                    disconnected_cb=disconnected,
                    error_cb=error,
                )
                break
            except (OSError, nats.errors.NoServersError, TimeoutError) as exc:
                if asyncio.get_running_loop().time() + wait > deadline:
                    raise ConfigError(
                        f"NATS_URL={redact_url(url)!r}: no NATS server answered within "
                        f"{connect_within:.0f}s ({type(exc).__name__})"
                    ) from None
                await asyncio.sleep(wait)
                wait = min(wait * 2, 2.0)
        bus = cls(nc, timeout=timeout)
        log.info("nats_connected", url=redact_url(url), name=name)
        return bus

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
        if not self.nc.is_closed:
            await self.nc.close()


def _headers(extra: dict[str, str] | None, msg_id: str | None) -> dict[str, str]:
    """Extra headers + the current trace context + ``Nats-Msg-Id``."""
    headers = inject_headers(dict(extra or {}))
    if msg_id is not None:
        headers["Nats-Msg-Id"] = msg_id
    return headers
