"""The scheduler: seed schedules fire at their ticks, once per tick, once after downtime."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.schemas import decode
from neuralbridge.core.subjects import SCHEDULER_KV
from neuralbridge.messages.jobs import JobRequest, manual_run_id
from neuralbridge.scheduler import SEED_SCHEDULES, Scheduler, enqueue_now, resolve_job
from neuralbridge.scheduler.ticker import TickState
from neuralbridge.scheduler.topology import declare_all

UTC_ZONE = ZoneInfo("UTC")
MONDAY_0900 = datetime(2026, 11, 23, 9, 0, 30, tzinfo=UTC)  # a Monday


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def bus(private_nats: EmbeddedNats) -> AsyncIterator[Bus]:
    connected = await Bus.connect(private_nats.url, name="scheduler-test")
    await declare_all(connected.js)
    yield connected
    await connected.close()


async def _make(bus: Bus, clock: FakeClock, **options: object) -> Scheduler:
    kv = await bus.js.key_value(SCHEDULER_KV)
    return Scheduler(bus, kv, SEED_SCHEDULES, tz=UTC_ZONE, clock=clock, **options)  # type: ignore[arg-type]


async def _count(bus: Bus, queue: str, job: str) -> int:
    info = await bus.js.stream_info(f"JOBS_{queue.upper()}", subjects_filter=f"jobs.{queue}.{job}")
    return int((info.state.subjects or {}).get(f"jobs.{queue}.{job}", 0))


def test_seed_schedules_latest_and_next_ticks_match_the_seeds() -> None:
    """Hourly, daily 02:00/03:00, Monday 02:00/09:00, Sunday 01:00 — as seeds 000/001 say."""
    due = {s.name: s.latest_due(MONDAY_0900, UTC_ZONE) for s in SEED_SCHEDULES}
    nxt = {s.name: s.next_due(MONDAY_0900, UTC_ZONE) for s in SEED_SCHEDULES}
    day = datetime(2026, 11, 23, tzinfo=UTC_ZONE)
    assert due["cache_cleanup"] == day.replace(hour=9)
    assert nxt["cache_cleanup"] == day.replace(hour=10)
    assert due["training_dataset_analysis"] == day.replace(hour=2)
    assert due["rag_training"] == day.replace(hour=3)
    assert due["prompt_optimization"] == day.replace(hour=2)
    assert nxt["prompt_optimization"] == day.replace(hour=2) + timedelta(days=7)
    assert due["feedback_cleanup"] == day.replace(hour=1) - timedelta(days=1)
    assert due["learning_report"] == day.replace(hour=9)
    timeouts = {s.name: s.timeout_seconds for s in SEED_SCHEDULES}
    assert (timeouts["prompt_optimization"], timeouts["rag_training"]) == (3600, 7200)
    assert (timeouts["ab_test_analysis"], timeouts["learning_report"]) == (1800, 600)


def test_schedules_follow_the_configured_time_zone() -> None:
    """Daily 03:00 in São Paulo is 06:00 UTC."""
    rag = resolve_job("rag_training")
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert rag.latest_due(now, ZoneInfo("America/Sao_Paulo")).astimezone(UTC).hour == 6


async def test_tick_enqueues_each_due_job_once_per_tick(bus: Bus) -> None:
    """At 09:00:30 on a Monday the due jobs are enqueued once; a second look adds nothing."""
    clock = FakeClock(MONDAY_0900)
    scheduler = await _make(bus, clock)
    first = await scheduler.tick()
    again = await scheduler.tick()
    clock.now += timedelta(hours=1)
    later = await scheduler.tick()
    assert sorted(i.split("@")[0] for i in first) == [
        "ab_test_analysis", "cache_cleanup", "learning_report",
    ]  # fmt: skip
    assert again == []
    assert sorted(i.split("@")[0] for i in later) == ["ab_test_analysis", "cache_cleanup"]
    assert await _count(bus, "default", "cache_cleanup") == 2
    assert await _count(bus, "learning", "learning_report") == 1


async def test_two_schedulers_enqueue_one_job_per_tick(
    bus: Bus, private_nats: EmbeddedNats
) -> None:
    """Two replicas evaluating the same ticks at the same time produce one job each tick."""
    other = await Bus.connect(private_nats.url, name="replica-2")
    try:
        clock = FakeClock(MONDAY_0900)
        first, second = await _make(bus, clock), await _make(other, clock)
        for _ in range(3):
            await asyncio.gather(first.tick(), second.tick())
            clock.now += timedelta(hours=1)
    finally:
        await other.close()
    assert await _count(bus, "default", "cache_cleanup") == 3


async def test_ticks_missed_while_down_run_once_on_return(bus: Bus) -> None:
    """Three days down: each hourly job runs once on return, and the skip count is recorded."""
    clock = FakeClock(MONDAY_0900)
    await (await _make(bus, clock)).tick()
    clock.now += timedelta(days=3)
    enqueued = await (await _make(bus, clock)).tick()
    state = await (await bus.js.key_value(SCHEDULER_KV)).get("cache_cleanup")
    assert await _count(bus, "default", "cache_cleanup") == 2
    assert "rag_training" in {i.split("@")[0] for i in enqueued}
    assert msgspec.json.decode(state.value or b"", type=TickState).skipped == 71


async def test_first_start_does_not_run_stale_ticks(bus: Bus) -> None:
    """Starting at 09:30 for the first time runs nothing old; 10:00 runs as usual."""
    clock = FakeClock(MONDAY_0900 + timedelta(minutes=30))
    scheduler = await _make(bus, clock)
    assert await scheduler.tick() == []
    clock.now = MONDAY_0900 + timedelta(hours=1)
    assert "cache_cleanup" in {i.split("@")[0] for i in await scheduler.tick()}


async def test_job_request_carries_queue_tick_and_seed_timeout(bus: Bus) -> None:
    """The enqueued message says which job, which tick, and how long it may run."""
    clock = FakeClock(datetime(2026, 11, 24, 3, 0, 5, tzinfo=UTC))
    await (await _make(bus, clock)).tick()
    raw = await bus.js.get_msg("JOBS_LEARNING", subject="jobs.learning.rag_training")
    job = decode(raw.data or b"", JobRequest)
    assert (job.job, job.queue, job.trigger) == ("rag_training", "learning", "schedule")
    assert job.tick == "2026-11-24T03:00:00+00:00"
    assert job.timeout_seconds == 7200
    assert raw.headers is not None
    assert raw.headers["Nats-Msg-Id"] == "rag_training@2026-11-24T03:00:00+00:00"


async def test_manual_run_accepts_seed_001_aliases(bus: Bus) -> None:
    """`nb jobs run train_rag` enqueues rag_training now; unknown names list the known ones."""
    await enqueue_now(bus, resolve_job("train_rag"))
    raw = await bus.js.get_msg("JOBS_LEARNING", subject="jobs.learning.rag_training")
    assert decode(raw.data or b"", JobRequest).trigger == "manual"
    with pytest.raises(KeyError, match="optimize_prompts"):
        resolve_job("defragment")


async def test_nb_scheduler_cli_setup_run_and_status(private_nats: EmbeddedNats) -> None:
    """`nb scheduler setup`, `nb jobs run report` and `nb scheduler status` work end to end."""
    env = {**os.environ, "NATS_URL": private_nats.url}

    def nb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "neuralbridge.cli.main", *args],
            capture_output=True, text=True, env=env, check=False, timeout=60,
        )  # fmt: skip

    setup = await asyncio.to_thread(nb, "scheduler", "setup")
    assert setup.returncode == 0, setup.stderr
    assert "prompt_optimization" in setup.stdout
    assert "0 2 * * 1" in setup.stdout
    ran = await asyncio.to_thread(nb, "jobs", "run", "report")
    assert ran.returncode == 0, ran.stderr
    assert "enqueued learning_report on queue learning" in ran.stderr
    run_id = ran.stdout.strip()
    tuned = await asyncio.to_thread(
        nb, "jobs", "run", "fine_tune", "--config", "dataset_limit=50",
        "--config", "learning_rate=0.0002", "--config", "dry=true", "--config", "note=by hand",
    )  # fmt: skip
    assert tuned.returncode == 0, tuned.stderr
    bad = await asyncio.to_thread(nb, "jobs", "run", "fine_tune", "--config", "epochs")
    assert bad.returncode == 2
    assert "--config 'epochs': expected KEY=VALUE" in bad.stderr
    unknown = await asyncio.to_thread(nb, "jobs", "run", "defragment")
    assert unknown.returncode == 2
    assert "unknown job 'defragment'" in unknown.stderr
    status = await asyncio.to_thread(nb, "scheduler", "status", "--json")
    rows = {r["job"]: r for r in json.loads(status.stdout)}
    assert set(rows) == {s.name for s in SEED_SCHEDULES}
    assert rows["learning_report"]["last_outcome"] == "no outcome recorded yet"
    bus = await Bus.connect(private_nats.url, name="cli-check")
    try:
        report = await bus.js.get_msg("JOBS_LEARNING", subject="jobs.learning.learning_report")
        assert manual_run_id(report.headers["Nats-Msg-Id"]) == run_id  # type: ignore[index]
        raw = await bus.js.get_msg("JOBS_TRAINING", subject="jobs.training.fine_tune")
        request = decode(raw.data or b"", JobRequest)
    finally:
        await bus.close()
    assert (request.queue, request.trigger, request.timeout_seconds) == ("training", "manual", 7200)
    assert request.config == {
        "dataset_limit": 50, "learning_rate": 0.0002, "dry": True, "note": "by hand",
    }  # fmt: skip
