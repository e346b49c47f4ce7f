"""Rate limits that hold across gateway replicas.

Each replica admits requests from its own token buckets (no network hop on the
request path) and, every ``GATEWAY_RATE_LIMIT_SYNC_SECONDS``, publishes the
tokens it took per bucket on core NATS (``gateway.ratelimit.usage``). Every
other replica debits them from its buckets. The limit a caller sees is then the
configured one, whichever replica serves it; the overshoot is bounded by what
all replicas can admit within one sync interval, and it is paid back (buckets
go below zero) before the caller is admitted again. A replica that misses a
report (NATS blip, restart) is only ever more lenient, never stricter.

Bucket names carry a digest prefix, a session id or a client address — never
an API key.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import msgspec
import structlog
from nats.aio.msg import Msg

from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import PayloadError
from neuralbridge.core.schemas import Message, decode, encode
from neuralbridge.core.subjects import GATEWAY_RATELIMIT_SUBJECT
from neuralbridge.gateway.ratelimit import RateLimiter

__all__ = ["RateLimitSync", "RateLimitUsage"]

log = structlog.get_logger()


class RateLimitUsage(Message, frozen=True, kw_only=True):
    """Tokens one replica took per bucket during one sync interval."""

    instance: str
    usage: dict[str, int] = msgspec.field(default_factory=dict)


class RateLimitSync:
    """Publish this replica's usage and debit the peers' (see the module docstring).

    Args:
        bus: The gateway's NATS connection.
        limiter: This replica's buckets.
        interval: Seconds between reports.
    """

    def __init__(self, bus: Bus, limiter: RateLimiter, *, interval: float) -> None:
        self._bus, self._limiter, self._interval = bus, limiter, interval
        self.instance = uuid.uuid4().hex

    async def run(self, stop: asyncio.Event) -> None:
        """Report and apply usage until ``stop`` is set, then report what is left."""
        sub = await self._bus.subscribe(GATEWAY_RATELIMIT_SUBJECT, cb=self._on_usage)
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval)
                await self.publish()
        finally:
            await sub.unsubscribe()

    async def publish(self) -> None:
        """Send the tokens taken since the last report (nothing when idle)."""
        usage = self._limiter.drain_usage()
        if not usage:
            return
        report = RateLimitUsage(instance=self.instance, usage=usage)
        try:
            await self._bus.nc.publish(GATEWAY_RATELIMIT_SUBJECT, encode(report))
        except Exception as exc:  # noqa: BLE001 - peers are only more lenient for a moment
            log.warning("ratelimit_sync_publish_failed", error=str(exc))

    async def _on_usage(self, msg: Msg) -> None:
        try:
            report = decode(msg.data, RateLimitUsage)
        except PayloadError as exc:
            log.warning("ratelimit_sync_bad_report", error=str(exc))
            return
        if report.instance == self.instance:
            return
        for bucket, count in report.usage.items():
            self._limiter.debit(bucket, count)
