"""Seed 000's check_job_health, carried by the stats reply (nb jobs stats, /api/jobs/stats)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import decode
from neuralbridge.dataset_transform.topology import declare_all, ingest_work, transforms_work
from neuralbridge.messages.training import JobStatsReply


async def _run(db: asyncpg.Pool, job: str, queue: str, status: str, finished: datetime) -> None:
    await db.execute(
        "INSERT INTO job_runs (id, job, queue, trigger, status, created_at, started_at,"
        " finished_at) VALUES ($1, $2, $3, 'manual', $4, $5, $5, $5)",
        uuid.uuid4(), job, queue, status, finished,
    )  # fmt: skip


async def _health(bus: Bus) -> Any:
    reply = await bus.nc.request("trainer.query.stats", b"", timeout=10)
    return decode(reply.data, JobStatsReply).health


async def test_healthy_then_each_alert_in_the_seed_order(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """Recent cleanup and few failures: ok; then 1 of 5 training runs failed in 6 h (0.2 >
    0.1), cleanup 3 h old, 101 undelivered transforms: three alerts, the embedding one first."""
    now = datetime.now(UTC)
    async with trainer():
        await _run(db, "cache_cleanup", "default", "completed", now - timedelta(minutes=30))
        for _ in range(10):
            await _run(db, "fine_tune", "training", "completed", now - timedelta(hours=1))
        await _run(db, "fine_tune", "training", "failed", now - timedelta(hours=1))
        await _run(db, "fine_tune", "training", "failed", now - timedelta(hours=7))  # too old
        healthy = await _health(client_bus)
        assert (healthy.status, healthy.message, healthy.alerts) == (
            "ok", "All job queues healthy", [],
        )  # fmt: skip
        assert healthy.training_failure_rate == round(1 / 11, 4)
        assert healthy.embedding_queue_depth == 0

        await db.execute("DELETE FROM job_runs")
        await _run(db, "cache_cleanup", "default", "completed", now - timedelta(hours=3))
        for status in ("completed", "completed", "completed", "completed", "failed"):
            await _run(db, "distillation", "training", status, now - timedelta(hours=2))
        await declare_all(client_bus.js, transforms_work(), ingest_work())
        for i in range(101):
            await client_bus.js.publish("DATASET_TRANSFORMS", f'{{"n": {i}}}'.encode())
        alerting = await _health(client_bus)
    assert alerting.status == "alert"
    assert alerting.alerts == [
        "Embedding queue backed up", "High training job failure rate", "Cache cleanup overdue",
    ]  # fmt: skip
    assert alerting.message == "Embedding queue backed up"
    assert alerting.embedding_queue_depth == 101
    assert alerting.training_failure_rate == 0.2
