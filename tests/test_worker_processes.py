"""Workers as real processes: killed mid-job, stopped with SIGTERM, heartbeating."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from nats.aio.msg import Msg

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.runner import JobContext
from neuralbridge.core.topology import WorkSpec, declare_work
from tests.support.jobs import Work
from tests.support.running import running
from tests.support.waiting import eventually
from tests.support.worker import worker_spec

pytestmark = pytest.mark.slow


class Reports:
    """What worker processes said: (event, key, pid, delivery, time received)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int, int, float]] = []

    async def on_msg(self, msg: Msg) -> None:
        event, key, pid, delivery = msg.data.decode().split()
        now = asyncio.get_running_loop().time()
        self.events.append((event, key, int(pid), int(delivery), now))

    def of(self, event: str) -> list[tuple[str, str, int, int, float]]:
        return [e for e in self.events if e[0] == event]


@asynccontextmanager
async def reports(bus: Bus, subject: str) -> AsyncIterator[Reports]:
    collected = Reports()
    sub = await bus.nc.subscribe(subject, cb=collected.on_msg)
    try:
        yield collected
    finally:
        await sub.unsubscribe()


@contextmanager
def workers(
    count: int, nats: EmbeddedNats, spec: WorkSpec, report: str, repo_root: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.worker",
                nats.url,
                spec.stream,
                spec.subjects[0],
                spec.consumer,
                str(spec.ack_wait),
                report,
            ],
            cwd=repo_root,
            env={**os.environ, "LOG_LEVEL": "warning"},
        )
        for _ in range(count)
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@asynccontextmanager
async def fleet(
    bus: Bus, nats: EmbeddedNats, repo_root: Path, uid: str, *, count: int, ack_wait: float
) -> AsyncIterator[tuple[WorkSpec, Reports, list[subprocess.Popen[bytes]]]]:
    """`count` worker processes on a fresh work stream, all ready to take jobs."""
    spec = worker_spec(f"W{uid}".upper(), f"w.{uid}", f"w{uid}", ack_wait)
    await declare_work(bus.js, spec)
    async with reports(bus, f"report.{uid}") as seen:
        with workers(count, nats, spec, f"report.{uid}", repo_root) as procs:
            await eventually(lambda: len(seen.of("ready")) == count, timeout=30)
            yield spec, seen, procs


async def test_sigkilled_worker_job_redelivered_within_two_ack_waits(
    bus: Bus, nats_server: EmbeddedNats, uid: str, repo_root: Path
) -> None:
    """A job whose worker is SIGKILLed is redone by another worker within 2 x ack_wait."""
    ack_wait = 2.0
    async with fleet(bus, nats_server, repo_root, uid, count=2, ack_wait=ack_wait) as (
        spec,
        seen,
        procs,
    ):
        await bus.publish(spec.subjects[0], Work(key="job", seconds=1.0))
        await eventually(lambda: len(seen.of("started")) == 1)
        _, _, victim, _, _ = seen.of("started")[0]
        os.kill(victim, signal.SIGKILL)
        killed_at = asyncio.get_running_loop().time()
        await eventually(lambda: len(seen.of("done")) == 1, timeout=4 * ack_wait)
        assert any(p.pid == victim and p.wait(5) == -signal.SIGKILL for p in procs)
    _, _, survivor, delivery, restarted_at = seen.of("started")[1]
    assert survivor != victim
    assert delivery == 2
    assert restarted_at - killed_at <= 2 * ack_wait
    assert [e[2] for e in seen.of("done")] == [survivor]


async def test_sigterm_during_job_finishes_it_without_duplicate(
    bus: Bus, nats_server: EmbeddedNats, uid: str, repo_root: Path
) -> None:
    """SIGTERM mid-job: the job completes, the worker exits 0, nobody redoes it."""
    ack_wait = 1.0
    async with fleet(bus, nats_server, repo_root, uid, count=1, ack_wait=ack_wait) as (
        spec,
        seen,
        procs,
    ):
        await bus.publish(spec.subjects[0], Work(key="job", seconds=2.0))
        await eventually(lambda: len(seen.of("started")) == 1)
        procs[0].send_signal(signal.SIGTERM)
        await eventually(lambda: len(seen.of("done")) == 1, timeout=10)
        assert await asyncio.to_thread(procs[0].wait, 15) == 0
        await asyncio.sleep(2 * ack_wait)
    assert len(seen.of("started")) == 1
    info = await bus.js.consumer_info(spec.stream, spec.consumer)
    assert (info.num_ack_pending, info.num_redelivered, info.num_pending) == (0, 0, 0)


async def test_slow_job_with_heartbeats_is_never_redelivered(
    bus: Bus, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """A job running 4 x ack_wait keeps its lease through in_progress heartbeats."""
    spec = make_work(ack_wait=1.0, max_deliver=5)
    deliveries: list[int] = []

    async def handle(job: Work, ctx: JobContext) -> None:
        deliveries.append(ctx.deliveries)
        await asyncio.sleep(job.seconds)

    async with running(bus, spec, handle, concurrency=2):
        await bus.publish(f"t.{uid}.slow", Work(key="slow", seconds=4.0))
        await eventually(lambda: _acked(bus, spec), timeout=10)
    assert deliveries == [1]


async def _acked(bus: Bus, spec: WorkSpec) -> bool:
    stream = await bus.js.stream_info(spec.stream)
    return stream.state.messages == 0
