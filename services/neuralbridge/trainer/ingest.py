"""Ingest the events the analysis reads: QUERY_LOGS → ``query_logs``, FEEDBACK → ``feedback``.

These are Limits-retention event streams other services own or read too, so
the shared :class:`JobRunner` (WorkQueue work streams with a DLQ) does not fit;
:class:`EventIngester` is the small equivalent for events: a durable pull
consumer, store then ack, idempotent by ``request_id``. Whatever has arrived
when the ingester is free is stored together (one ``INSERT`` for a batch of
query logs). A body that can never be stored — it does not decode, or
PostgreSQL refuses it as data (a NUL character, an invalid byte sequence) — is
logged, counted (``outcome="rejected"``), copied to the feed's DLQ stream with
the standard ``X-Dlq-*`` headers and only then terminated; a batch refused as
data is stored event by event so one bad event never holds the others back.
Any other storage failure naks the batch, retried after ``retry_delay``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import structlog
from nats.aio.msg import Msg

from neuralbridge.core import dlq
from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import PayloadError
from neuralbridge.core.pull import PullFeed
from neuralbridge.core.schemas import decode
from neuralbridge.messages.proxy import QueryLogged
from neuralbridge.messages.training import FeedbackGiven
from neuralbridge.trainer import metrics as m
from neuralbridge.trainer import store
from neuralbridge.trainer.topology import (
    FEEDBACK_FEED,
    QUERY_LOGS_FEED,
    EventFeedSpec,
    declare_feed_consumer,
)

__all__ = ["EventIngester", "feedback_ingester", "query_log_ingester"]

log = structlog.get_logger()

#: Per body of a batch: stored (True), a duplicate (False), or why it can never be stored.
Outcome = bool | PayloadError
StoreBatch = Callable[[list[bytes]], Awaitable[list[Outcome]]]
E = TypeVar("E", QueryLogged, FeedbackGiven)


class EventIngester:
    """Consume one event stream with ``store_batch(bodies) -> outcomes`` until stopped."""

    def __init__(
        self, bus: Bus, feed: EventFeedSpec, store_batch: StoreBatch, *, capacity: int = 256,
        retry_delay: float = 5.0,
    ) -> None:  # fmt: skip
        self._bus, self._spec, self._store = bus, feed, store_batch
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
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._handle(batch)
            self._feed.wake()

    async def _handle(self, batch: list[Msg]) -> None:
        stream = self._spec.stream
        try:
            outcomes = await self._store([msg.data for msg in batch])
        except asyncpg.DataError as exc:
            if len(batch) > 1:  # find the bad ones: store the others one by one
                for msg in batch:
                    await self._handle([msg])
                return
            outcomes = [PayloadError(f"PostgreSQL refused the event as data: {exc}")]
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("event_store_failed", stream=stream, events=len(batch), error=str(exc))
            for msg in batch:
                await msg.nak(delay=self._retry_delay)
            return
        for msg, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, PayloadError):
                await self._reject(msg, outcome)
                continue
            m.EVENTS_INGESTED.labels(stream, "stored" if outcome else "duplicate").inc()
            await msg.ack()

    async def _reject(self, msg: Msg, error: PayloadError) -> None:
        """Copy an event that can never be stored to the DLQ, then terminate it."""
        stream = self._spec.stream
        log.warning("event_rejected", stream=stream, error=str(error))
        meta = msg.metadata
        headers = dlq.dead_letter_headers(
            subject=msg.subject, stream=stream, seq=meta.sequence.stream,
            deliveries=meta.num_delivered, consumer=self._spec.consumer,
            error_class=error.error_class, error=str(error), original_headers=msg.headers,
        )  # fmt: skip
        try:
            await self._bus.js.publish(self._spec.dlq_subject, msg.data, headers=headers)
        except Exception as exc:  # noqa: BLE001 - keep the event: it comes back and is rejected again
            log.warning("dlq_publish_failed", stream=stream, error=str(exc))
            await msg.nak(delay=self._retry_delay)
            return
        m.EVENTS_INGESTED.labels(stream, "rejected").inc()
        await msg.term()


def _decoded(bodies: list[bytes], kind: type[E]) -> tuple[list[Outcome], list[tuple[int, E]]]:
    """Outcomes with the undecodable bodies filled in, and the decoded events by index."""
    outcomes: list[Outcome] = [False] * len(bodies)
    events: list[tuple[int, E]] = []
    for i, body in enumerate(bodies):
        try:
            events.append((i, decode(body, kind)))
        except PayloadError as exc:
            outcomes[i] = exc
    return outcomes, events


def query_log_ingester(bus: Bus, pool: asyncpg.Pool) -> EventIngester:
    """QUERY_LOGS → ``query_logs`` (with its A/B experiment and variant, if any)."""

    async def store_query_logs(bodies: list[bytes]) -> list[Outcome]:
        outcomes, events = _decoded(bodies, QueryLogged)
        stored = await store.insert_query_logs(pool, [e for _, e in events])
        for i, event in events:
            outcomes[i] = event.request_id in stored
            stored.discard(event.request_id)  # a repeat inside the batch is a duplicate
        return outcomes

    return EventIngester(bus, QUERY_LOGS_FEED, store_query_logs)


def feedback_ingester(bus: Bus, pool: asyncpg.Pool) -> EventIngester:
    """FEEDBACK → ``feedback`` (the latest feedback per request wins), one at a time."""

    async def store_feedback(bodies: list[bytes]) -> list[Outcome]:
        outcomes, events = _decoded(bodies, FeedbackGiven)
        for i, event in events:
            outcomes[i] = await store.insert_feedback(pool, event)
        return outcomes

    return EventIngester(bus, FEEDBACK_FEED, store_feedback)
