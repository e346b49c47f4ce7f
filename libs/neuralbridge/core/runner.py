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
5. on stop: send no more pull requests, release what has not started, let
   in-flight jobs finish within the grace period, release the rest.

Handlers never ack, nak or term; they return or raise.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

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


class JobContext:
    """What a handler may know about the delivery it is handling."""

    __slots__ = ("_msg", "deliveries", "headers", "msg_id", "seq", "stream", "subject")

    def __init__(self, msg: Msg, stream: str, seq: int, deliveries: int) -> None:
        self._msg = msg
        self.subject: str = msg.subject
        self.stream = stream
        self.seq = seq
        self.deliveries = deliveries
        self.headers: dict[str, str] = dict(msg.headers or {})
        self.msg_id: str | None = self.headers.get("Nats-Msg-Id")

    async def heartbeat(self) -> None:
        """Tell the server the job is still being worked on (the runner also does)."""
        await self._msg.in_progress()


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
    ) -> None:
        self.spec = spec
        self._bus = bus
        self._type = message_type
        self._handler = handler
        self._concurrency = concurrency
        self._capacity = concurrency + prefetch
        self._timeout = job_timeout
        self._grace = grace
        self._stats_interval = stats_interval
        self._queue: asyncio.Queue[Msg | None] = asyncio.Queue()
        # Messages delivered to this runner and not yet finished, by id(msg)
        # (Msg is unhashable), with the time of their last heartbeat.
        self._held: dict[int, tuple[Msg, float]] = {}
        self._running = 0
        self._stopping = False
        self._helpers_done = asyncio.Event()
        self._beat_every = max(0.05, spec.redelivery_timeout / 3)
        labels = (spec.stream, spec.consumer)
        self._m = {o: m.JOBS.labels(*labels, o) for o in ("success", "retry", "dlq", "released")}
        self._duration = m.JOB_DURATION.labels(*labels)
        self._redeliveries = m.JOB_REDELIVERIES.labels(*labels)
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
        advisory = await self._bus.nc.subscribe(
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
        self._held[id(msg)] = (msg, asyncio.get_running_loop().time())
        if self._stopping:
            asyncio.get_running_loop().create_task(self._release(msg))
        else:
            self._queue.put_nowait(msg)

    async def _work(self) -> None:
        while (msg := await self._queue.get()) is not None:
            if self._stopping:
                await self._release(msg)
                continue
            self._running += 1
            self._in_flight.inc()
            try:
                await self._process(msg)
            finally:
                self._running -= 1
                self._in_flight.dec()
                self._held.pop(id(msg), None)
                self._feed.wake()

    async def _process(self, msg: Msg) -> None:
        meta = msg.metadata
        seq, deliveries = meta.sequence.stream, meta.num_delivered
        if deliveries > 1:
            self._redeliveries.inc()
        if not tracing_active():
            # Nothing records spans: only carry the producer's context along.
            carried = msg.headers is not None and "traceparent" in msg.headers
            token = otel_context.attach(extract_context(msg.headers)) if carried else None
            try:
                await self._run_and_log(msg, seq, deliveries)
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
            error = await self._run_and_log(msg, seq, deliveries)
            if error is not None:
                span.set_status(trace.StatusCode.ERROR, error)

    async def _run_and_log(self, msg: Msg, seq: int, deliveries: int) -> str | None:
        """Handle the message, record metrics and the job's one log line."""
        started = asyncio.get_running_loop().time()
        outcome, error = await self._outcome(msg, seq, deliveries)
        elapsed = asyncio.get_running_loop().time() - started
        self._duration.observe(elapsed)
        self._m[outcome].inc()
        log.info(
            "job_finished",
            stream=self.spec.stream,
            seq=seq,
            subject=msg.subject,
            deliveries=deliveries,
            outcome=outcome,
            duration_ms=round(elapsed * 1000, 2),
            error=error,
        )
        return error

    async def _outcome(self, msg: Msg, seq: int, deliveries: int) -> tuple[str, str | None]:
        if deliveries > self.spec.max_deliver:
            reason = f"no outcome after {deliveries - 1} deliveries (worker lost or timed out)"
            return await self._dead_letter(msg, deliveries, "DeliveryLimitExceeded", reason)
        try:
            job = decode(msg.data, self._type)
            ctx = JobContext(msg, self.spec.stream, seq, deliveries)
            async with asyncio.timeout(self._timeout):
                await self._handler(job, ctx)
        except PermanentError as exc:
            return await self._dead_letter(msg, deliveries, exc.error_class, str(exc))
        except TimeoutError:
            exc_t = JobTimeoutError(f"job ran longer than {self._timeout}s")
            return await self._retry(msg, deliveries, exc_t.error_class, str(exc_t), None)
        except RetryableError as exc:
            return await self._retry(msg, deliveries, exc.error_class, str(exc), exc.delay)
        except asyncio.CancelledError:
            await self._release(msg)
            raise
        except Exception as exc:  # noqa: BLE001 - unknown failures are transient by default
            return await self._retry(msg, deliveries, type(exc).__name__, str(exc), None)
        await msg.ack()
        return "success", None

    async def _retry(
        self, msg: Msg, deliveries: int, error_class: str, error: str, delay: float | None
    ) -> tuple[str, str | None]:
        if deliveries >= self.spec.max_deliver:
            return await self._dead_letter(msg, deliveries, error_class, error)
        wait = self.spec.delay_after(deliveries) if delay is None else delay
        await msg.nak(delay=wait)
        return "retry", f"{error_class}: {error}"

    async def _dead_letter(
        self, msg: Msg, deliveries: int, error_class: str, error: str
    ) -> tuple[str, str | None]:
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
        try:
            await self._bus.js.publish(self.spec.dlq_subject, msg.data, headers=headers)
        except Exception as exc:  # noqa: BLE001 - keep the original: it comes back and retries
            log.warning("dlq_publish_failed", stream=self.spec.stream, error=str(exc))
            await msg.nak(delay=self.spec.delay_after(max(deliveries, 1)) or 1.0)
            return "retry", f"{error_class}: {error} (DLQ publish failed: {exc})"
        await msg.term()
        m.DLQ_MESSAGES.labels(self.spec.stream, self.spec.consumer, error_class).inc()
        return "dlq", f"{error_class}: {error}"

    async def _release(self, msg: Msg) -> None:
        """Give a message back for immediate redelivery (shutdown)."""
        self._held.pop(id(msg), None)
        with contextlib.suppress(Exception):
            await msg.nak()
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
        for msg, _ in list(self._held.values()):
            await self._release(msg)

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
            for key, (msg, since) in list(self._held.items()):
                if now - since >= self._beat_every and not msg._ackd:
                    with contextlib.suppress(Exception):
                        await msg.in_progress()
                    if key in self._held:
                        self._held[key] = (msg, now)

    async def _redeclare(self) -> None:
        await declare_work(self._bus.js, self.spec)

    async def _on_max_deliveries(self, advisory: Msg) -> None:
        await dead_letter_stranded(self._bus, self.spec, advisory.data)

    async def _stats(self) -> None:
        while not self._helpers_done.is_set():
            await refresh_gauges(self._bus, self.spec)
            await self._pause(self._stats_interval)
