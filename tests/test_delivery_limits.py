"""Jobs whose deliveries ran out without an outcome still end up in the DLQ."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from neuralbridge.core.bus import Bus
from neuralbridge.core.dlq import entries
from neuralbridge.core.runner import JobContext
from neuralbridge.core.topology import WorkSpec, declare_work
from tests.support.jobs import Work
from tests.support.running import running
from tests.support.waiting import eventually


async def _take_without_ack(bus: Bus, spec: WorkSpec, times: int) -> None:
    """Play a worker that dies: take the message, never answer, `times` times."""
    sub = await bus.js.pull_subscribe_bind(spec.consumer, stream=spec.stream)
    for _ in range(times):
        msgs = await sub.fetch(1, timeout=5)
        assert len(msgs) == 1
        await asyncio.sleep(spec.ack_wait + 0.2)
    await sub.unsubscribe()


async def _dlq_letters(bus: Bus, spec: WorkSpec) -> list[dict[str, str]]:
    return [e.headers async for e in entries(bus.js, spec.dlq_stream)]


async def test_job_lost_on_every_delivery_goes_to_dlq_on_the_extra_one(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """After max_deliver lost deliveries, the runner dead-letters it unhandled."""
    spec = make_work(ack_wait=0.5, max_deliver=2)
    await declare_work(bus.js, spec)
    await bus.publish(f"t.{uid}.lost", Work(key="lost"))
    await _take_without_ack(bus, spec, times=2)
    handled: list[str] = []

    async def handle(job: Work, ctx: JobContext) -> None:
        handled.append(job.key)

    async with running(bus, spec, handle):
        await eventually(lambda: _has_letters(bus, spec, 1))
    letters = await _dlq_letters(bus, spec)
    assert handled == []
    assert letters[0]["X-Dlq-Error-Class"] == "DeliveryLimitExceeded"
    assert letters[0]["X-Dlq-Deliveries"] == "3"
    assert (await bus.js.stream_info(spec.stream)).state.messages == 0


async def test_max_deliveries_advisory_moves_stranded_job_to_dlq(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """A job the server stopped delivering is copied to the DLQ and removed from the stream."""
    spec = make_work(ack_wait=0.5, max_deliver=2)
    release = asyncio.Event()

    async def busy(job: Work, ctx: JobContext) -> None:
        await release.wait()

    async with running(bus, spec, busy, concurrency=1):
        await bus.publish(f"t.{uid}.hold", Work(key="occupies the only slot"))
        await eventually(lambda: _ack_pending(bus, spec, 1))
        await bus.publish(f"t.{uid}.stranded", Work(key="stranded"))
        await _take_without_ack(bus, spec, times=3)  # the server's max_deliver is 3
        # The server notices the exhausted job when it next looks for work to deliver.
        sub = await bus.js.pull_subscribe_bind(spec.consumer, stream=spec.stream)
        with contextlib.suppress(TimeoutError):
            await sub.fetch(1, timeout=1)
        await sub.unsubscribe()
        await eventually(lambda: _has_letters(bus, spec, 1))
        release.set()
    letters = await _dlq_letters(bus, spec)
    assert letters[0]["X-Dlq-Error-Class"] == "MaxDeliveriesExceeded"
    assert letters[0]["X-Dlq-Original-Subject"] == f"t.{uid}.stranded"
    assert (await bus.js.stream_info(spec.stream)).state.messages == 0


async def _has_letters(bus: Bus, spec: WorkSpec, n: int) -> bool:
    return (await bus.js.stream_info(spec.dlq_stream)).state.messages == n


async def _ack_pending(bus: Bus, spec: WorkSpec, n: int) -> bool:
    return (await bus.js.consumer_info(spec.stream, spec.consumer)).num_ack_pending == n
