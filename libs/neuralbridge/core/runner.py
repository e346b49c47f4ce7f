"""The job runner: every service's consumer, and the one place that acks.

A runner's whole life, in order (see :meth:`JobRunner.run`):

1. declare the work stream, consumer and DLQ (idempotent);
2. pull continuously (:class:`~neuralbridge.core.pull.PullFeed`), holding at
   most ``concurrency + prefetch`` messages, handled by ``concurrency`` workers;
3. per message: decode into the handler's struct, run the handler inside the
   producer's trace, then decide —

   * returned → ``ack``;
   * :class:`PermanentError` (bad payload, validation) → DLQ at once;
   * anything else → ``nak`` with the delay for this delivery number (the
     consumer's backoff schedule, or the error's own ``delay``), and on the
     last allowed delivery → DLQ;
   * a DLQ copy is published and its PubAck awaited before the original is
     terminated, so nothing is lost between the two;

4. heartbeat (``in_progress``) every held message well inside the redelivery
   timeout, so a live worker's long job is never redelivered and a dead one's is;
   if a heartbeat is late anyway (a starved event loop) and the server
   redelivers a message this runner still holds, the runner adopts the new
   delivery (later heartbeats and the final ack use it) instead of running
   the job a second time;
5. on stop: send no more pull requests, release what has not started, let
   in-flight jobs finish within the grace period, release the rest.

Handlers never ack, nak or term; they return or raise.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

import structlog
from nats.aio.msg import Msg
from opentelemetry import context as otel_context
from opentelemetry import trace

from neuralbridge.core import dlq
from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import JobTimeoutError, PermanentError, RetryableError
from neuralbridge.core.observability import metrics as m
from neuralbridge.core.observability.tracing import extract_context, tracer, tracing_active
from neuralbridge.core.pull import PullFeed
from neuralbridge.core.runner_watch import dead_letter_stranded, refresh_gauges
from neuralbridge.core.schemas import Message, decode
from neuralbridge.core.topology import WorkSpec, declare_work

__all__ = ["Handler", "JobContext", "JobRunner"]

log = structlog.get_logger()

M = TypeVar("M", bound=Message)


class _Delivery:
    """A message this runner holds: its newest delivery and last heartbeat."""

    __slots__ = ("msg", "seq", "since")

    def __init__(self, msg: Msg, seq: int, now: float) -> None:
        self.msg = msg
        self.seq = seq
        self.since = now


class JobContext:
    """What a handler may know about the delivery it is handling."""

    __slots__ = ("_held", "deliveries", "headers", "msg_id", "seq", "stream", "subject")

    def __init__(self, held: _Delivery, stream: str, seq: int, deliveries: int) -> None:
        self._held = held
        msg = held.msg
        self.subject: str = msg.subject
        self.stream = stream
        self.seq = seq
        self.deliveries = deliveries
        self.headers: dict[str, str] = dict(msg.headers or {})
        self.msg_id: str | None = self.headers.get("Nats-Msg-Id")

    async def heartbeat(self) -> None:
        """Tell the server the job is still being worked on (the runner also does)."""
        await self._held.msg.in_progress()


Handler = Callable[[M, JobContext], Awaitable[None]]


class JobRunner(Generic[M]):
    """Consume one :class:`WorkSpec` with a handler.

    Args:
        bus: The connection.
        spec: Stream, consumer, DLQ, retry schedule.
        message_type: The struct every message decodes into.
        handler: ``async def handle(job, ctx) -> None``.
        concurrency: Jobs handled at once.
        prefetch: Extra messages held ready beyond ``concurrency``.
        job_timeout: Seconds a handler may run before a retryable timeout.
        grace: Seconds in-flight jobs get to finish after a stop.
        stats_interval: Seconds between stream/consumer gauge refreshes.
        redact: Masks secrets a job body may carry in its DLQ copies
            (:func:`neuralbridge.core.dlq.dead_letter_body`).
    """

    def __init__(
        self,
        bus: Bus,
        spec: WorkSpec,
        message_type: type[M],
        handler: Handler[M],
        *,
        concurrency: int = 8,
        prefetch: int = 0,
        job_timeout: float | None = None,
        grace: float = 30.0,
        stats_interval: float = 15.0,
        pull_expires: float = 10.0,
        redact: dlq.Redactor | None = None,
    ) -> None:
        self.spec = spec
        self._redact = redact
        self._bus = bus
        self._type = message_type
        self._handler = handler
        self._concurrency = concurrency
        self._capacity = concurrency + prefetch
        self._timeout = job_timeout
        self._grace = grace
        self._stats_interval = stats_interval
        self._queue: asyncio.Queue[_Delivery | None] = asyncio.Queue()
        # Messages delivered to this runner and not yet finished, by stream sequence.
        self._held: dict[int, _Delivery] = {}
        self._running = 0
        self._chores: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._helpers_done = asyncio.Event()
        self._beat_every = max(0.05, spec.redelivery_timeout / 3)
        labels = (spec.stream, spec.consumer)
        self._m = {o: m.JOBS.labels(*labels, o) for o in ("success", "retry", "dlq", "released")}
        self._duration = m.JOB_DURATION.labels(*labels)
        self._redeliveries = m.JOB_REDELIVERIES.labels(*labels)
        self._adopted = m.JOB_REDELIVERIES_ADOPTED.labels(*labels)
        self._in_flight = m.JOBS_IN_FLIGHT.labels(*labels)
        self._feed = PullFeed(
            bus,
            spec.stream,
            spec.consumer,
            free_slots=lambda: self._capacity - len(self._held),
            deliver=self._accept,
            on_consumer_lost=self._redeclare,
            expires=pull_expires,
            idle_heartbeat=min(2.5, pull_expires / 4),
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then drain (see the module docstring)."""
        await declare_work(self._bus.js, self.spec)
        advisory = await self._bus.subscribe(
            f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{self.spec.stream}.{self.spec.consumer}",
            cb=self._on_max_deliveries,
        )
        workers = [asyncio.create_task(self._work()) for _ in range(self._concurrency)]
        helpers = [asyncio.create_task(self._heartbeats()), asyncio.create_task(self._stats())]
        await self._feed.start()
        log.info("runner_started", stream=self.spec.stream, consumer=self.spec.consumer)
        try:
            await stop.wait()
        finally:
            await self._drain(workers)
            # The helpers stop by flag, not only by cancellation: Python 3.11's
            # wait_for (inside the gauge refresh) can swallow a cancel, which
            # left a stopped runner sleeping in _stats forever.
            self._helpers_done.set()
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            with contextlib.suppress(Exception):
                await advisory.unsubscribe()
            log.info("runner_stopped", stream=self.spec.stream, consumer=self.spec.consumer)

    def _accept(self, msg: Msg) -> None:
        loop = asyncio.get_running_loop()
        seq = msg.metadata.sequence.stream
        held = self._held.get(seq)
        if held is not None:
            # Redelivered while still held here (a heartbeat came too late):
            # keep the one job going, on the newest delivery.
            held.msg, held.since = msg, loop.time()
            self._adopted.inc()
            log.warning(
                "redelivery_adopted",
                stream=self.spec.stream,
                seq=seq,
                deliveries=msg.metadata.num_delivered,
            )
            self._chore(self._beat(held))
            return
        held = self._held[seq] = _Delivery(msg, seq, loop.time())
        if self._stopping:
            self._chore(self._release(held))
        else:
            self._queue.put_nowait(held)

    def _chore(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background, keeping a reference until it is done."""
        task = asyncio.get_running_loop().create_task(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def _work(self) -> None:
        while (held := await self._queue.get()) is not None:
            if self._stopping:
                await self._release(held)
                continue
            self._running += 1
            self._in_flight.inc()
            try:
                await self._process(held)
            finally:
                self._running -= 1
                self._in_flight.dec()
                self._held.pop(held.seq, None)
                self._feed.wake()

    async def _process(self, held: _Delivery) -> None:
        msg = held.msg
        meta = msg.metadata
        seq, deliveries = meta.sequence.stream, meta.num_delivered
        if deliveries > 1:
            self._redeliveries.inc()
        if not tracing_active():
            # Nothing records spans: only carry the producer's context along.
            carried = msg.headers is not None and "traceparent" in msg.headers
            token = otel_context.attach(extract_context(msg.headers)) if carried else None
            try:
                await self._run_and_log(held, seq, deliveries)
            finally:
                if token is not None:
                    otel_context.detach(token)
            return
        with tracer().start_as_current_span(
            f"process {self.spec.stream}",
            context=extract_context(msg.headers),
            kind=trace.SpanKind.CONSUMER,
        ) as span:
            span.set_attribute("messaging.message.id", f"{self.spec.stream}:{seq}")
            span.set_attribute("messaging.delivery_count", deliveries)
            error = await self._run_and_log(held, seq, deliveries)
            if error is not None:
                span.set_status(trace.StatusCode.ERROR, error)

    async def _run_and_log(self, held: _Delivery, seq: int, deliveries: int) -> str | None:
        """Handle the message, record metrics and the job's one log line."""
        started = asyncio.get_running_loop().time()
        outcome, error = await self._outcome(held, seq, deliveries)
        elapsed = asyncio.get_running_loop().time() - started
        self._duration.observe(elapsed)
        self._m[outcome].inc()
        log.info(
            "job_finished",
            stream=self.spec.stream,
            seq=seq,
            subject=held.msg.subject,
            deliveries=deliveries,
            outcome=outcome,
            duration_ms=round(elapsed * 1000, 2),
            error=error,
        )
        return error

    async def _outcome(self, held: _Delivery, seq: int, deliveries: int) -> tuple[str, str | None]:
        if deliveries > self.spec.max_deliver:
            reason = f"no outcome after {deliveries - 1} deliveries (worker lost or timed out)"
            return await self._dead_letter(held, deliveries, "DeliveryLimitExceeded", reason)
        try:
            job = decode(held.msg.data, self._type)
            ctx = JobContext(held, self.spec.stream, seq, deliveries)
            async with asyncio.timeout(self._timeout):
                await self._handler(job, ctx)
        except PermanentError as exc:
            return await self._dead_letter(held, deliveries, exc.error_class, str(exc))
        except TimeoutError:
            exc_t = JobTimeoutError(f"job ran longer than {self._timeout}s")
            return await self._retry(held, deliveries, exc_t.error_class, str(exc_t), None)
        except RetryableError as exc:
            return await self._retry(held, deliveries, exc.error_class, str(exc), exc.delay)
        except asyncio.CancelledError:
            await self._release(held)
            raise
        except Exception as exc:  # noqa: BLE001 - unknown failures are transient by default
            return await self._retry(held, deliveries, type(exc).__name__, str(exc), None)
        await held.msg.ack()
        return "success", None

    async def _retry(
        self, held: _Delivery, deliveries: int, error_class: str, error: str, delay: float | None
    ) -> tuple[str, str | None]:
        # Adopted redeliveries count too: the server will not deliver past max_deliver.
        deliveries = max(deliveries, held.msg.metadata.num_delivered)
        if deliveries >= self.spec.max_deliver:
            return await self._dead_letter(held, deliveries, error_class, error)
        wait = self.spec.delay_after(deliveries) if delay is None else delay
        await held.msg.nak(delay=wait)
        return "retry", f"{error_class}: {error}"

    async def _dead_letter(
        self, held: _Delivery, deliveries: int, error_class: str, error: str
    ) -> tuple[str, str | None]:
        msg = held.msg
        meta = msg.metadata
        headers = dlq.dead_letter_headers(
            subject=msg.subject,
            stream=self.spec.stream,
            seq=meta.sequence.stream,
            deliveries=deliveries,
            consumer=self.spec.consumer,
            error_class=error_class,
            error=error,
            original_headers=msg.headers,
        )
        body = dlq.dead_letter_body(msg.data, headers, self._redact)
        try:
            await self._bus.js.publish(self.spec.dlq_subject, body, headers=headers)
        except Exception as exc:  # noqa: BLE001 - keep the original: it comes back and retries
            log.warning("dlq_publish_failed", stream=self.spec.stream, error=str(exc))
            await msg.nak(delay=self.spec.delay_after(max(deliveries, 1)) or 1.0)
            return "retry", f"{error_class}: {error} (DLQ publish failed: {exc})"
        await msg.term()
        m.DLQ_MESSAGES.labels(self.spec.stream, self.spec.consumer, error_class).inc()
        return "dlq", f"{error_class}: {error}"

    async def _release(self, held: _Delivery) -> None:
        """Give a message back for immediate redelivery (shutdown)."""
        self._held.pop(held.seq, None)
        with contextlib.suppress(Exception):
            await held.msg.nak()
        self._m["released"].inc()

    async def _drain(self, workers: list[asyncio.Task[None]]) -> None:
        self._stopping = True
        await self._feed.stop_requesting()
        for _ in workers:
            self._queue.put_nowait(None)
        _, late = await asyncio.wait(workers, timeout=self._grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await self._feed.close()
        for held in list(self._held.values()):
            await self._release(held)

    async def _pause(self, seconds: float) -> bool:
        """Sleep ``seconds``; ``False`` once the helpers are told to stop."""
        if self._helpers_done.is_set():
            return False
        waiter = asyncio.ensure_future(self._helpers_done.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()
        return not self._helpers_done.is_set()

    async def _heartbeats(self) -> None:
        while await self._pause(self._beat_every):
            now = asyncio.get_running_loop().time()
            for held in list(self._held.values()):
                # Half a period of slack: a message that just missed this round
                # would otherwise wait two periods for its next heartbeat.
                if now - held.since >= self._beat_every / 2:
                    await self._beat(held)

    async def _beat(self, held: _Delivery) -> None:
        msg = held.msg
        if msg._ackd:
            return
        with contextlib.suppress(Exception):
            await msg.in_progress()
        held.since = asyncio.get_running_loop().time()

    async def _redeclare(self) -> None:
        await declare_work(self._bus.js, self.spec)

    async def _on_max_deliveries(self, advisory: Msg) -> None:
        await dead_letter_stranded(self._bus, self.spec, advisory.data, redact=self._redact)

    async def _stats(self) -> None:
        while not self._helpers_done.is_set():
            await refresh_gauges(self._bus, self.spec)
            await self._pause(self._stats_interval)
