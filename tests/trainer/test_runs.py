"""The job platform: recovery per error class, cancel, progress, one run per tick, stats."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from neuralbridge.cli.trainer import jobs_cancel, jobs_stats
from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import decode
from neuralbridge.messages.training import JobRunState, JobStatsReply
from neuralbridge.trainer.errors import RateLimitedError
from neuralbridge.trainer.runs import JobDef, RunContext
from tests.support.waiting import eventually
from tests.trainer.helpers import TICK, enqueue, job_request, wait_run


class Recorder:
    """Extra jobs that record when and how often they ran."""

    def __init__(self) -> None:
        self.started: list[float] = []

    def mark(self) -> None:
        self.started.append(asyncio.get_running_loop().time())


async def test_rate_limited_job_is_retried_after_attempt_times_base(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """Rate limited on attempt 1: pending, redelivered after 1 x 0.3 s, completes on attempt 2.

    The growth (attempt 2 → 2 x base) is the pure ``decide`` test: nats-server 2.15
    does not honour a second NAK delay on a consumer with a ``backoff`` list, which
    ``queue_work`` sets (see the report).
    """
    rec = Recorder()
    states: list[str] = []

    async def flaky(run: RunContext) -> dict[str, Any]:
        rec.mark()
        states.append(str(await db.fetchval("SELECT status FROM job_runs WHERE id = $1",
                                            uuid.UUID(run.run_id))))  # fmt: skip
        if run.attempt < 2:
            raise RateLimitedError("429 Too Many Requests")
        return {"ok": True}

    async with trainer(JobDef(name="flaky_api", run=flaky)):
        row = await wait_run(db, await enqueue(client_bus, job_request("flaky_api")))
    assert (row["status"], row["attempt"]) == ("completed", 2)
    assert 0.3 <= rec.started[1] - rec.started[0] < 0.6
    assert states == ["running", "running"]


async def test_training_queue_failure_is_recorded_and_not_retried(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """A failing training job: failed on attempt 1, acked, no redelivery, no DLQ copy."""
    rec = Recorder()

    async def boom(_: RunContext) -> dict[str, Any]:
        rec.mark()
        raise RuntimeError("GPU fell off the bus")

    async with trainer(JobDef(name="boom_train", run=boom)):
        request = job_request("boom_train", queue="training")
        row = await wait_run(db, await enqueue(client_bus, request))
        await asyncio.sleep(0.5)
        consumer = await client_bus.js.consumer_info("JOBS_TRAINING", "trainer-training")
        dlq = await client_bus.js.stream_info("DLQ_JOBS_TRAINING")
    assert (row["status"], row["attempt"], row["error_message"]) == (
        "failed", 1, "GPU fell off the bus",
    )  # fmt: skip
    assert len(rec.started) == 1
    assert (consumer.num_ack_pending, consumer.num_redelivered) == (0, 0)
    assert dlq.state.messages == 0


async def test_job_past_its_time_limit_fails(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """JobRequest.timeout_seconds bounds the run (a training job: failed, not retried)."""

    async def sleepy(_: RunContext) -> dict[str, Any]:
        await asyncio.sleep(30)
        return {}

    async with trainer(JobDef(name="sleepy", run=sleepy)):
        request = job_request("sleepy", queue="training", timeout=0.3)
        row = await wait_run(db, await enqueue(client_bus, request))
    assert row["status"] == "failed"
    assert row["error_message"] == "job ran longer than its 0.3s time limit"


async def test_cancel_running_job_stops_it_between_steps(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """A cancel flag in KV trainer_cancels ends the run cancelled at its next step."""
    steps: list[int] = []

    async def long_job(run: RunContext) -> dict[str, Any]:
        for step in range(1, 101):
            steps.append(step)
            await run.progress(step, f"step {step}")
            await asyncio.sleep(0.05)
        return {}

    async with trainer(JobDef(name="long_job", run=long_job)):
        run_id = await enqueue(client_bus, job_request("long_job", queue="training"))
        await eventually(lambda: len(steps) >= 3)
        assert await jobs_cancel(client_bus, run_id, reason="operator asked") == 0  # nb jobs cancel
        row = await wait_run(db, run_id)
    assert (row["status"], row["error_message"]) == ("cancelled", "operator asked")
    assert 3 <= len(steps) < 100
    assert row["progress_percentage"] == len(steps)


async def test_progress_never_goes_backwards(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """Reports of 10, 50, 30, 80: stored and published 10, 50, 50, 80; SQL refuses lower."""
    seen: list[float] = []

    async def wobbly(run: RunContext) -> dict[str, Any]:
        for value in (10.0, 50.0, 30.0, 80.0):
            await run.progress(value, f"at {value}")
            seen.append(run.progress_percentage)
        return {}

    async with trainer(JobDef(name="wobbly", run=wobbly)):
        run_id = await enqueue(client_bus, job_request("wobbly"))
        await wait_run(db, run_id)
        state = await (await client_bus.js.key_value("trainer_runs")).get(run_id)
    await db.execute("UPDATE job_runs SET progress_percentage = 5 WHERE id = $1",
                     uuid.UUID(run_id))  # fmt: skip
    stored = await db.fetchval("SELECT progress_percentage FROM job_runs WHERE id = $1",
                               uuid.UUID(run_id))  # fmt: skip
    assert seen == [10.0, 50.0, 50.0, 80.0]
    assert decode(state.value or b"", JobRunState).progress_percentage == 100.0
    assert stored == 100.0


async def test_same_scheduled_tick_delivered_twice_runs_once(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """The tick re-published after the dedup window (another msg id) is skipped."""
    rec = Recorder()

    async def counted(_: RunContext) -> dict[str, Any]:
        rec.mark()
        return {}

    async with trainer(JobDef(name="counted", run=counted)):
        run_id = await enqueue(client_bus, job_request("counted"), msg_id="counted@tick")
        await wait_run(db, run_id)
        again = await enqueue(client_bus, job_request("counted"), msg_id="replayed-from-dlq")
        await eventually(_stream_empty(client_bus, "JOBS_DEFAULT"))
    assert again == run_id
    assert len(rec.started) == 1
    assert await db.fetchval("SELECT count(*) FROM job_runs WHERE tick = $1", TICK) == 1


async def test_unknown_job_is_recorded_failed_and_dead_lettered(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """No handler registered: failed at once, the message in DLQ_JOBS_DEFAULT."""
    async with trainer():
        row = await wait_run(db, await enqueue(client_bus, job_request("defragment")))
        await eventually(_has_messages(client_bus, "DLQ_JOBS_DEFAULT"))
    assert row["status"] == "failed"
    assert "no handler is registered" in row["error_message"]


async def test_job_results_and_stats_show_outcomes(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """job_results holds each job's last outcome; trainer.query.stats counts runs."""

    async def ok(_: RunContext) -> dict[str, Any]:
        return {}

    async with trainer(JobDef(name="ok_job", run=ok)):
        done = await wait_run(db, await enqueue(client_bus, job_request("ok_job")))
        await wait_run(db, await enqueue(client_bus, job_request("fine_tune", queue="training")))
        outcome = await (await client_bus.js.key_value("job_results")).get("ok_job")
        reply = await client_bus.nc.request("trainer.query.stats", b"", timeout=5)
    value = json.loads(outcome.value or b"")
    stats = decode(reply.data, JobStatsReply)
    assert (value["status"], value["run_id"]) == ("completed", str(done["id"]))
    assert value["finished_at"]
    assert stats.jobs_by_status["completed"] == 1
    assert stats.jobs_by_status["cancelled"] == 1
    assert stats.queue_performance["default"].success_rate == 1.0
    assert stats.active_training_jobs == []


def _stream_empty(bus: Bus, stream: str) -> Callable[[], Any]:
    async def check() -> bool:
        return (await bus.js.stream_info(stream)).state.messages == 0

    return check


def _has_messages(bus: Bus, stream: str) -> Callable[[], Any]:
    async def check() -> bool:
        return (await bus.js.stream_info(stream)).state.messages > 0

    return check


async def test_nb_jobs_stats_reports_runs_by_status_and_queue(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`nb jobs stats --json` shows a finished run under its status and queue."""

    async def quick(run: RunContext) -> dict[str, Any]:
        await run.progress(100, "done")
        return {"ok": True}

    async with trainer(JobDef(name="quick_job", run=quick)):
        run_id = await enqueue(client_bus, job_request("quick_job", queue="default"))
        await wait_run(db, run_id)
        capsys.readouterr()
        assert await jobs_stats(client_bus, as_json=True) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["jobs_by_status"].get("completed", 0) >= 1
    assert "default" in stats["queue_performance"]
