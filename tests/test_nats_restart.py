"""The runner survives a nats-server restart and every job's effect happens once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from neuralbridge.core.bus import Bus
from neuralbridge.core.db import claim_once, migrate
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.runner import JobContext
from neuralbridge.core.topology import work_spec
from tests.support.jobs import Work
from tests.support.running import running
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

JOBS = 300


@pytest.fixture
async def own_bus(private_nats: EmbeddedNats) -> AsyncIterator[Bus]:
    bus = await Bus.connect(private_nats.url, name="restart-test")
    yield bus
    await bus.close()


async def _publish_until_acked(bus: Bus, subject: str, job: Work) -> None:
    """Keep trying through the outage; the msg id makes retries one job."""
    while True:
        try:
            await bus.publish(subject, job, msg_id=f"job-{job.key}", timeout=1.0)
        except Exception:  # server down: try again
            await asyncio.sleep(0.2)
        else:
            return


async def test_nats_restart_mid_stream_every_job_processed_exactly_once(
    private_nats: EmbeddedNats, own_bus: Bus, pool: asyncpg.Pool, schema: str, uid: str
) -> None:
    """Stop and restart nats-server while jobs flow: the runner resumes, effects are once."""
    await migrate(pool, schema, [])
    await pool.execute(f'CREATE TABLE "{schema}".effects (key text, handled_at timestamptz)')
    spec = work_spec("RESTART", ("restart.>",), "restart-worker", ack_wait=2.0, max_deliver=10)
    calls: list[str] = []

    async def handle(job: Work, ctx: JobContext) -> None:
        calls.append(job.key)
        async with pool.acquire() as conn, conn.transaction():
            if await claim_once(conn, schema, f"restart:{job.key}"):
                await conn.execute(f'INSERT INTO "{schema}".effects VALUES ($1, now())', job.key)

    async def effects() -> int:
        return int(await pool.fetchval(f'SELECT count(*) FROM "{schema}".effects'))

    async def publish_all() -> None:
        for i in range(JOBS):
            await _publish_until_acked(own_bus, "restart.jobs", Work(key=str(i), seconds=0))
            await asyncio.sleep(0.01)

    async with running(own_bus, spec, handle, concurrency=8):
        publisher = asyncio.create_task(publish_all())
        await eventually(lambda: len(calls) >= 50)
        await asyncio.to_thread(private_nats.stop)
        handled_before_restart = len(set(calls))
        await asyncio.sleep(1.0)
        await asyncio.to_thread(private_nats.start)
        await asyncio.wait_for(publisher, 60)
        await eventually(lambda: _count_is(effects, JOBS), timeout=60)
    assert handled_before_restart < JOBS // 2  # the restart really was mid-stream
    rows = await pool.fetch(f'SELECT key, count(*) AS n FROM "{schema}".effects GROUP BY key')
    assert len(rows) == JOBS
    assert all(r["n"] == 1 for r in rows)
    assert set(calls) == {str(i) for i in range(JOBS)}


async def _count_is(count: object, expected: int) -> bool:
    return await count() == expected  # type: ignore[operator]
