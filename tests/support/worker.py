"""A worker process for tests that kill, stop or restart things.

Usage: python -m tests.support.worker NATS_URL STREAM SUBJECT CONSUMER ACK_WAIT REPORT_SUBJECT

Runs one JobRunner on the given work and reports ``started <key> <pid>`` and
``done <key> <pid>`` as core NATS messages on REPORT_SUBJECT. SIGTERM/SIGINT
stop it gracefully (the composition root's signal handling).
"""

from __future__ import annotations

import asyncio
import os
import sys

from neuralbridge.core.bus import Bus
from neuralbridge.core.runner import JobContext, JobRunner
from neuralbridge.core.service import install_stop_signals
from neuralbridge.core.topology import WorkSpec, work_spec
from tests.support.jobs import Work


def worker_spec(stream: str, subject: str, consumer: str, ack_wait: float) -> WorkSpec:
    """The spec both the test and its worker processes declare (they must agree)."""
    return work_spec(stream, (subject,), consumer, ack_wait=ack_wait, max_deliver=5)


async def run(argv: list[str]) -> None:
    url, stream, subject, consumer, ack_wait_text, report = argv
    ack_wait = float(ack_wait_text)
    bus = await Bus.connect(url, name=f"test-worker-{os.getpid()}")
    spec = worker_spec(stream, subject, consumer, ack_wait)
    pid = str(os.getpid())

    async def handle(job: Work, ctx: JobContext) -> None:
        await bus.nc.publish(report, f"started {job.key} {pid} {ctx.deliveries}".encode())
        await bus.nc.flush()
        await asyncio.sleep(job.seconds)
        await bus.nc.publish(report, f"done {job.key} {pid} {ctx.deliveries}".encode())
        await bus.nc.flush()

    stop = asyncio.Event()
    install_stop_signals(stop)
    runner = JobRunner(bus, spec, Work, handle, concurrency=2, grace=10)
    await bus.nc.publish(report, f"ready - {pid} 0".encode())
    await runner.run(stop)
    await bus.close()


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1:7]))
