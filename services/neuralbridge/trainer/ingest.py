"""Ingest the events the analysis reads: QUERY_LOGS → ``query_logs``, FEEDBACK → ``feedback``.

These are Limits-retention event streams other services own or read too, so
the shared :class:`JobRunner` (WorkQueue work streams with a DLQ) does not fit;
:class:`EventIngester` is the small equivalent for events: a durable pull
consumer, store then ack, idempotent by ``request_id``. A body that does not
decode is logged, counted (``outcome="rejected"``) and terminated — it can
never succeed; a storage failure is nak'ed and retried after ``retry_delay``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import structlog
from nats.aio.msg import Msg

from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import PayloadError
from neuralbridge.core.pull import PullFeed
from neuralbridge.core.schemas import decode
from neuralbridge.messages.proxy import QueryLogged
from neuralbridge.messages.training import FeedbackGiven
from neuralbridge.trainer import experiments, rag_store, store
from neuralbridge.trainer import metrics as m
from neuralbridge.trainer.topology import (
    FEEDBACK_FEED,
    QUERY_LOGS_FEED,
    EventFeedSpec,
    declare_feed_consumer,
)

__all__ = ["EventIngester", "feedback_ingester", "query_log_ingester"]

log = structlog.get_logger()

Store = Callable[[bytes], Awaitable[bool]]


class EventIngester:
    """Consume one event stream with ``store(body) -> stored`` until stopped."""

    def __init__(
        self, bus: Bus, feed: EventFeedSpec, store_event: Store, *, capacity: int = 64,
        retry_delay: float = 5.0,
    ) -> None:  # fmt: skip
        self._bus, self._spec, self._store = bus, feed, store_event
        self._capacity, self._retry_delay = capacity, retry_delay
        self._queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._feed = PullFeed(
            bus, feed.stream, feed.consumer,
            free_slots=lambda: self._capacity - self._queue.qsize(),
            deliver=self._queue.put_nowait,
            on_consumer_lost=lambda: declare_feed_consumer(bus.js, feed),
            expires=10.0, idle_heartbeat=2.5,
        )  # fmt: skip

    async def run(self, stop: asyncio.Event) -> None:
        """Store events until ``stop`` is set; unacked ones come back on the next start."""
        await self._feed.start()
        worker = asyncio.create_task(self._work())
        try:
            await stop.wait()
        finally:
            await self._feed.close()
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def _work(self) -> None:
        while True:
            msg = await self._queue.get()
            await self._handle(msg)
            self._feed.wake()

    async def _handle(self, msg: Msg) -> None:
        stream = self._spec.stream
        try:
            stored = await self._store(msg.data)
        except PayloadError as exc:
            log.warning("event_rejected", stream=stream, error=str(exc))
            m.EVENTS_INGESTED.labels(stream, "rejected").inc()
            await msg.term()
            return
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("event_store_failed", stream=stream, error=str(exc))
            await msg.nak(delay=self._retry_delay)
            return
        m.EVENTS_INGESTED.labels(stream, "stored" if stored else "duplicate").inc()
        await msg.ack()


def query_log_ingester(bus: Bus, pool: asyncpg.Pool) -> EventIngester:
    """QUERY_LOGS → ``query_logs`` (with its A/B experiment and variant, if any).

    An event without ``logged_at`` is dated on arrival.
    """

    async def store_query_log(body: bytes) -> bool:
        event = decode(body, QueryLogged)
        at = event.logged_at or datetime.now(UTC).timestamp()
        stored = await store.insert_query_log(pool, event, datetime.fromtimestamp(at, UTC))
        if event.experiment is not None and event.variant is not None:
            # after the insert, and idempotent: a redelivery completes a half-stored event
            await experiments.record_assignment(
                pool, event.request_id, event.experiment, event.variant
            )
        if event.sources:  # what the answer was given, for the RAG training (idempotent too)
            await rag_store.set_query_sources(pool, event.request_id, event.sources)
        return stored

    return EventIngester(bus, QUERY_LOGS_FEED, store_query_log)


def feedback_ingester(bus: Bus, pool: asyncpg.Pool) -> EventIngester:
    """FEEDBACK → ``feedback`` (the latest feedback per request wins)."""

    async def store_feedback(body: bytes) -> bool:
        return await store.insert_feedback(pool, decode(body, FeedbackGiven))

    return EventIngester(bus, FEEDBACK_FEED, store_feedback)
