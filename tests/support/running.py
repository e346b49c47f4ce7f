"""Start a JobRunner for the length of a test and stop it afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from neuralbridge.core.bus import Bus
from neuralbridge.core.runner import Handler, JobRunner
from neuralbridge.core.topology import WorkSpec, declare_work
from tests.support.jobs import Work


@asynccontextmanager
async def running(
    bus: Bus, spec: WorkSpec, handler: Handler[Work], **options: Any
) -> AsyncIterator[JobRunner[Work]]:
    """Run ``handler`` on ``spec`` until the block exits; re-raise runner crashes."""
    await declare_work(bus.js, spec)
    runner = JobRunner(bus, spec, Work, handler, **{"grace": 5.0, **options})
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        yield runner
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
