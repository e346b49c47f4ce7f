"""A continuous pull from one durable consumer, robust to server restarts.

nats.py's ``PullSubscription.fetch`` can hang on an orphaned pull request and
never re-arms after a server restart (nats.py issues #504 and #933). This feed
speaks the pull protocol itself, the way the newer NATS clients' ``Consume``
does: one inbox subscription, pull requests sized to the free capacity, each
with ``expires`` and ``idle_heartbeat``. It keeps a count of messages asked
for and not yet received; status messages (408 request timeout, 409
conflicts) give back their ``Nats-Pending-Messages``. When neither a message
nor a heartbeat arrives for two heartbeat intervals, or the client reconnects,
the outstanding requests are presumed lost and new ones are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import msgspec
import structlog
from nats.aio.msg import Msg

from neuralbridge.core.bus import Bus, BusSubscription

__all__ = ["PullFeed"]

log = structlog.get_logger()

_NS = 1_000_000_000
_STATUS = "Status"
_PENDING = "Nats-Pending-Messages"


class PullFeed:
    """Keep ``capacity()`` messages requested from ``stream``/``consumer``.

    Args:
        bus: The connection.
        stream: Stream name.
        consumer: Durable consumer name.
        free_slots: Returns how many more messages the caller can hold now.
        deliver: Called with each delivered message (never a status message).
        on_consumer_lost: Awaited when the server says the consumer is gone.
        expires: Lifetime of each pull request, seconds.
        idle_heartbeat: Server heartbeat interval while a request waits.
    """

    def __init__(
        self,
        bus: Bus,
        stream: str,
        consumer: str,
        *,
        free_slots: Callable[[], int],
        deliver: Callable[[Msg], None],
        on_consumer_lost: Callable[[], Awaitable[None]],
        expires: float = 10.0,
        idle_heartbeat: float = 2.5,
    ) -> None:
        self._bus = bus
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._free_slots = free_slots
        self._deliver = deliver
        self._on_consumer_lost = on_consumer_lost
        self._expires = expires
        self._heartbeat = min(idle_heartbeat, expires / 2)
        self._requested = 0
        self._last_activity = 0.0
        self._stopped = False
        self._wake = asyncio.Event()
        self._sub: BusSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._inbox = ""
        self._encoder = msgspec.json.Encoder()

    async def start(self) -> None:
        """Subscribe to the inbox and start requesting."""
        self._inbox = self._bus.nc.new_inbox()
        self._sub = await self._bus.subscribe(self._inbox, cb=self._on_inbox)
        self._bus.on_reconnect(self._on_reconnect)
        self._task = asyncio.create_task(self._loop(), name=f"pull:{self._next_subject}")

    def wake(self) -> None:
        """Capacity was freed: consider sending a pull request now."""
        self._wake.set()

    async def stop_requesting(self) -> None:
        """Send no more pull requests (deliveries for those sent still arrive).

        The loop is told to stop and woken rather than cancelled: on Python 3.11 a
        cancellation that lands while ``wait_for`` times out can be swallowed, which
        left a stopping runner waiting forever.
        """
        self._stopped = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        self._bus.remove_reconnect_listener(self._on_reconnect)

    async def close(self) -> None:
        """Stop requesting and drop the inbox subscription."""
        await self.stop_requesting()
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopped:
            now = loop.time()
            if self._requested and now - self._last_activity > 2 * self._heartbeat + 0.5:
                log.warning("pull_request_lost", subject=self._next_subject, asked=self._requested)
                self._requested = 0
            want = self._free_slots() - self._requested
            ready = want >= self._threshold() or not self._requested
            if want > 0 and self._bus.connected and ready and not self._stopped:
                await self._request(want)
            self._wake.clear()
            if self._stopped:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._heartbeat):
                    await self._wake.wait()

    def _threshold(self) -> int:
        return max(1, (self._free_slots() + self._requested) // 4)

    async def _request(self, batch: int) -> None:
        body = self._encoder.encode(
            {
                "batch": batch,
                "expires": int(self._expires * _NS),
                "idle_heartbeat": int(self._heartbeat * _NS),
            }
        )
        try:
            await self._bus.nc.publish(self._next_subject, body, reply=self._inbox)
        except Exception as exc:  # noqa: BLE001 - a failed request is retried on the next tick
            log.warning("pull_request_failed", error=str(exc))
            return
        self._requested += batch
        self._last_activity = asyncio.get_running_loop().time()

    async def _on_inbox(self, msg: Msg) -> None:
        self._last_activity = asyncio.get_running_loop().time()
        if msg.reply:  # a job; status messages carry no reply subject
            self._requested = max(0, self._requested - 1)
            self._deliver(msg)
            return
        headers = msg.headers or {}
        status = headers.get(_STATUS, "")
        if status == "100":
            return
        pending = headers.get(_PENDING)
        if pending is not None:
            self._requested = max(0, self._requested - int(pending))
        elif status in ("404", "408"):
            self._requested = 0
        if status == "409":
            description = headers.get("Description", "")
            log.warning("pull_request_conflict", subject=self._next_subject, reason=description)
            if "Deleted" in description:
                self._requested = 0
                await self._on_consumer_lost()
        self._wake.set()

    async def _on_reconnect(self) -> None:
        self._requested = 0
        self._wake.set()
