"""The job runner's ack policy: success, retry with backoff, DLQ, dedup, tracing."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import pytest
from opentelemetry import trace

from neuralbridge.core.bus import Bus
from neuralbridge.core.dlq import DLQ_HEADERS, entries
from neuralbridge.core.errors import PermanentError, RetryableError
from neuralbridge.core.runner import JobContext
from neuralbridge.core.schemas import encode
from neuralbridge.core.topology import WorkSpec
from tests.conftest import SPANS
from tests.support.jobs import Work
from tests.support.running import running
from tests.support.waiting import eventually


async def _dlq_depth(bus: Bus, spec: WorkSpec) -> int:
    return int((await bus.js.stream_info(spec.dlq_stream)).state.messages)


async def test_runner_handles_jobs_acks_and_empties_work_queue(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """Every published job is handled once and acked; the WorkQueue stream empties."""
    spec = make_work()
    seen: list[str] = []

    async def handle(job: Work, ctx: JobContext) -> None:
        seen.append(job.key)

    async with running(bus, spec, handle, concurrency=4):
        for i in range(25):
            await bus.publish(f"t.{uid}.work", Work(key=str(i)))
        await eventually(lambda: len(seen) == 25)
        await eventually(lambda: _stream_empty(bus, spec))
    assert sorted(seen, key=int) == [str(i) for i in range(25)]


async def _stream_empty(bus: Bus, spec: WorkSpec) -> bool:
    info = await bus.js.consumer_info(spec.stream, spec.consumer)
    stream = await bus.js.stream_info(spec.stream)
    return info.num_ack_pending == 0 and stream.state.messages == 0


async def test_publish_same_msg_id_twice_yields_one_job(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """Two publishes with one Nats-Msg-Id inside the duplicate window are one job."""
    spec = make_work()
    seen: list[str] = []

    async def handle(job: Work, ctx: JobContext) -> None:
        seen.append(job.key)

    async with running(bus, spec, handle):
        first = await bus.publish(f"t.{uid}.a", Work(key="once"), msg_id="job-42")
        second = await bus.publish(f"t.{uid}.a", Work(key="once"), msg_id="job-42")
        await bus.publish(f"t.{uid}.a", Work(key="marker"), msg_id="job-43")
        await eventually(lambda: "marker" in seen)
    assert (first.duplicate, second.duplicate, second.seq) == (None, True, first.seq)
    assert seen.count("once") == 1


async def test_transient_failure_retried_with_backoff_then_succeeds(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """A failing handler is redelivered after each backoff step, then succeeds."""
    spec = make_work(backoff=(0.5, 1.0), max_deliver=4, ack_wait=5.0)
    deliveries: list[tuple[int, float]] = []
    done = asyncio.Event()

    async def handle(job: Work, ctx: JobContext) -> None:
        deliveries.append((ctx.deliveries, asyncio.get_running_loop().time()))
        if ctx.deliveries <= job.fail_times:
            raise ConnectionError("upstream unavailable")
        done.set()

    async with running(bus, spec, handle):
        await bus.publish(f"t.{uid}.x", Work(key="k", fail_times=2))
        await asyncio.wait_for(done.wait(), 10)
    assert [d for d, _ in deliveries] == [1, 2, 3]
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(deliveries)]
    assert gaps[0] >= 0.45
    assert gaps[1] >= 0.95
    assert await _dlq_depth(bus, spec) == 0


async def test_max_deliver_exhausted_one_dlq_message_byte_identical(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """After max_deliver failures: exactly one DLQ copy, same bytes, every header."""
    spec = make_work(backoff=(0.1, 0.1), max_deliver=3)
    calls: list[int] = []
    body = b'{"key":  "k1" ,\n "fail_times": 99}'

    async def handle(job: Work, ctx: JobContext) -> None:
        calls.append(ctx.deliveries)
        raise RuntimeError("boom at the embedder")

    async with running(bus, spec, handle):
        ack = await bus.publish(f"t.{uid}.dead", body)
        await eventually(lambda: _dlq_has(bus, spec, 1))
        await asyncio.sleep(1.0)  # nothing more may arrive (no second copy, no 4th try)
        letters = [e async for e in entries(bus.js, spec.dlq_stream)]
    assert calls == [1, 2, 3]
    assert len(letters) == 1
    letter = letters[0]
    assert letter.body == body
    assert set(DLQ_HEADERS) <= set(letter.headers)
    h = letter.headers
    assert h["X-Dlq-Original-Subject"] == f"t.{uid}.dead"
    assert h["X-Dlq-Original-Stream"] == spec.stream
    assert h["X-Dlq-Original-Seq"] == str(ack.seq)
    assert h["X-Dlq-Deliveries"] == "3"
    assert h["X-Dlq-Consumer"] == spec.consumer
    assert h["X-Dlq-Error-Class"] == "RuntimeError"
    assert "boom at the embedder" in h["X-Dlq-Error"]
    assert "traceparent" in h
    assert (await bus.js.stream_info(spec.stream)).state.messages == 0


async def _dlq_has(bus: Bus, spec: WorkSpec, n: int) -> bool:
    return await _dlq_depth(bus, spec) == n


@pytest.mark.parametrize(
    "payload",
    [b'{"key": "unterminated', b'{"seconds": 1}', b'{"key": 7}', b""],
    ids=["broken-json", "missing-field", "wrong-type", "empty"],
)
async def test_malformed_payload_goes_to_dlq_at_once(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str, payload: bytes
) -> None:
    """A body that does not decode is dead-lettered on its first delivery, unhandled."""
    spec = make_work(backoff=(0.1,), max_deliver=5)
    calls: list[str] = []

    async def handle(job: Work, ctx: JobContext) -> None:
        calls.append(job.key)

    async with running(bus, spec, handle):
        await bus.publish(f"t.{uid}.bad", payload)
        await eventually(lambda: _dlq_has(bus, spec, 1))
        letter = await anext(entries(bus.js, spec.dlq_stream))
    assert calls == []
    assert letter.headers["X-Dlq-Deliveries"] == "1"
    assert letter.headers["X-Dlq-Error-Class"] == "PayloadError"
    assert "Work" in letter.headers["X-Dlq-Error"]
    assert letter.body == payload


async def test_permanent_error_from_handler_goes_to_dlq_without_retry(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """A handler's PermanentError is not retried."""
    spec = make_work(backoff=(0.1,), max_deliver=5)
    calls: list[int] = []

    async def handle(job: Work, ctx: JobContext) -> None:
        calls.append(ctx.deliveries)
        raise PermanentError("dataset 'missing' does not exist")

    async with running(bus, spec, handle):
        await bus.publish(f"t.{uid}.p", Work(key="p"))
        await eventually(lambda: _dlq_has(bus, spec, 1))
        await asyncio.sleep(0.5)
    assert calls == [1]


async def test_retryable_error_delay_overrides_backoff(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """RetryableError(delay=…) (a Retry-After hint) sets the next delivery's delay."""
    spec = make_work(backoff=(0.05,), max_deliver=3)
    times: list[float] = []

    async def handle(job: Work, ctx: JobContext) -> None:
        times.append(asyncio.get_running_loop().time())
        if ctx.deliveries == 1:
            raise RetryableError("429 Too Many Requests", delay=1.0)

    async with running(bus, spec, handle):
        await bus.publish(f"t.{uid}.r", Work(key="r"))
        await eventually(lambda: len(times) == 2)
    assert times[1] - times[0] >= 0.95


async def test_job_timeout_is_retried(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """A handler past job_timeout is cancelled and the job retried."""
    spec = make_work(backoff=(0.1,), max_deliver=3)
    finished: list[int] = []

    async def handle(job: Work, ctx: JobContext) -> None:
        await asyncio.sleep(5 if ctx.deliveries == 1 else 0)
        finished.append(ctx.deliveries)

    async with running(bus, spec, handle, job_timeout=0.3):
        await bus.publish(f"t.{uid}.t", Work(key="t"))
        await eventually(lambda: finished == [2])


async def test_redelivery_of_a_job_still_running_here_is_adopted_not_rerun(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """A starved event loop misses heartbeats; the redelivery joins the running job."""
    spec = make_work(ack_wait=0.5, max_deliver=5)
    started: list[int] = []
    finished: list[int] = []

    async def handle(job: Work, ctx: JobContext) -> None:
        started.append(ctx.deliveries)
        time.sleep(1.3)  # noqa: ASYNC251 - on purpose: no heartbeat can go out
        await asyncio.sleep(1.0)  # the redeliveries arrive; heartbeats resume
        await ctx.heartbeat()
        finished.append(ctx.deliveries)

    async with running(bus, spec, handle):
        await bus.publish(f"t.{uid}.slow", Work(key="slow"))
        await eventually(lambda: finished == [1], timeout=10)
        await eventually(lambda: _stream_empty(bus, spec))
        consumer = await bus.js.consumer_info(spec.stream, spec.consumer)
        await asyncio.sleep(1.0)  # a second run would have started by now
    assert consumer.delivered is not None
    assert consumer.delivered.consumer_seq >= 2, "the server never redelivered"
    assert started == [1]
    assert await _dlq_depth(bus, spec) == 0


async def test_empty_fetch_is_not_an_error(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """Idle pull requests expire quietly; a later job is still picked up at once."""
    spec = make_work()
    seen: list[str] = []

    async def handle(job: Work, ctx: JobContext) -> None:
        seen.append(job.key)

    async with running(bus, spec, handle, pull_expires=0.5):
        await asyncio.sleep(2.0)  # four expired pull requests
        await bus.publish(f"t.{uid}.late", Work(key="late"))
        await eventually(lambda: seen == ["late"], timeout=3)


async def test_trace_context_survives_publish_consume_hop(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """The handler runs inside the producer's trace (same trace id)."""
    spec = make_work()
    seen: list[int] = []

    async def handle(job: Work, ctx: JobContext) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    async with running(bus, spec, handle):
        with trace.get_tracer("test").start_as_current_span("http request") as root:
            await bus.publish(f"t.{uid}.tr", encode(Work(key="t")))
        await eventually(lambda: len(seen) == 1)
    assert seen[0] == root.get_span_context().trace_id
    names = {s.name for s in SPANS.get_finished_spans() if s.context.trace_id == seen[0]}
    assert {"http request", f"publish t.{uid}.tr", f"process {spec.stream}"} <= names


async def test_dlq_error_header_never_contains_secrets(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """Credentials in an error message are masked before they reach the DLQ."""
    spec = make_work()

    async def handle(job: Work, ctx: JobContext) -> None:
        raise PermanentError(
            "401 from https://user:hunter2@api.example/v1 with key sk-proj-abcdefghijklmnop123"
        )

    async with running(bus, spec, handle):
        await bus.publish(f"t.{uid}.s", Work(key="s"))
        await eventually(lambda: _dlq_has(bus, spec, 1))
        letter = await anext(entries(bus.js, spec.dlq_stream))
    error = letter.headers["X-Dlq-Error"]
    assert "hunter2" not in error
    assert "sk-proj-abcdefghijklmnop123" not in error
    assert "401 from" in error
