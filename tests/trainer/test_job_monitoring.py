"""Job monitoring: run events on TRAINER_EVENTS, failed runs, retry by id, `nb jobs watch`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from nats.js.api import RetentionPolicy

from neuralbridge.cli.jobs import jobs_failed, jobs_retry
from neuralbridge.cli.trainer import jobs_cancel
from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.schemas import decode, encode
from neuralbridge.messages.training import JobRunState, RetryReply, RetryRun
from neuralbridge.trainer.runs import JobDef, RunContext, run_id_for
from tests.support.waiting import eventually
from tests.trainer.helpers import enqueue, job_request, wait_run


async def _events(bus: Bus, run_id: str) -> list[tuple[str, JobRunState]]:
    """Every event of ``run_id`` in the stream, in order, as (kind, state)."""
    sub = await bus.js.subscribe(f"trainer.events.{run_id}.>", ordered_consumer=True)
    found: list[tuple[str, JobRunState]] = []
    try:
        while not found or found[-1][1].status not in ("completed", "failed", "cancelled"):
            msg = await sub.next_msg(timeout=10)
            found.append((msg.subject.rsplit(".", 1)[1], decode(msg.data, JobRunState)))
    finally:
        await sub.unsubscribe()
    return found


async def _retry(bus: Bus, run_id: str) -> RetryReply:
    reply = await bus.nc.request("trainer.command.retry", encode(RetryRun(run_id=run_id)), 10)
    return decode(reply.data, RetryReply)


async def test_run_events_are_published_in_order_with_monotonic_progress(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """Reports 10, 50, 30, 80: status running, progress 10 50 50 80, status completed 100."""

    async def wobbly(run: RunContext) -> dict[str, Any]:
        for value in (10.0, 50.0, 30.0, 80.0):
            await run.progress(value, f"at {value:g}")
        return {"ok": True}

    async with trainer(JobDef(name="wobbly_events", run=wobbly)):
        run_id = await enqueue(client_bus, job_request("wobbly_events"))
        await wait_run(db, run_id)
        events = await _events(client_bus, run_id)
        info = await client_bus.js.stream_info("TRAINER_EVENTS")
    assert [(kind, e.status, e.progress_percentage, e.step) for kind, e in events] == [
        ("status", "running", 0.0, None),
        ("progress", "running", 10.0, "at 10"),
        ("progress", "running", 50.0, "at 50"),
        ("progress", "running", 50.0, "at 30"),
        ("progress", "running", 80.0, "at 80"),
        ("status", "completed", 100.0, "at 80"),
    ]
    assert {e.run_id for _, e in events} == {run_id}
    assert info.config.max_age == 7 * 24 * 3600
    assert info.config.retention == RetentionPolicy.LIMITS


async def test_failed_runs_are_listed_newest_first_with_their_error(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`nb jobs failed --json` lists failed training runs only, with the error, newest first."""

    async def boom(run: RunContext) -> dict[str, Any]:
        raise RuntimeError(f"disk full on {run.request.config['node']}")

    async def fine(_: RunContext) -> dict[str, Any]:
        return {}

    async with trainer(JobDef(name="boom_a", run=boom), JobDef(name="fine_a", run=fine)):
        first = await wait_run(db, await enqueue(client_bus, job_request(
            "boom_a", queue="training", config={"node": "n1"})))  # fmt: skip
        second = await wait_run(db, await enqueue(client_bus, job_request(
            "boom_a", queue="training", tick=None, config={"node": "n2"})))  # fmt: skip
        await wait_run(db, await enqueue(client_bus, job_request("fine_a")))
        capsys.readouterr()
        assert await jobs_failed(client_bus, limit=20, as_json=True) == 0
        listed = json.loads(capsys.readouterr().out)
        assert await jobs_failed(client_bus, limit=1, as_json=True) == 0
        one = json.loads(capsys.readouterr().out)
        assert await jobs_failed(client_bus, limit=0, as_json=True) == 2
        refused = capsys.readouterr().err
    assert [(r["run_id"], r["job"], r["queue"], r["error_message"]) for r in listed] == [
        (str(second["id"]), "boom_a", "training", "disk full on n2"),
        (str(first["id"]), "boom_a", "training", "disk full on n1"),
    ]
    assert [r["run_id"] for r in one] == [str(second["id"])]
    assert "limit" in refused


async def test_retry_creates_a_new_manual_run_with_the_same_job_config_and_limit(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A failed training run retried by id runs again as a new run, which completes."""
    seen: list[tuple[str, str, float, dict[str, Any]]] = []

    async def fails_once(run: RunContext) -> dict[str, Any]:
        r = run.request
        seen.append((run.run_id, r.trigger, r.timeout_seconds, dict(r.config)))
        if len(seen) == 1:
            raise RuntimeError("out of GPU memory")
        await run.progress(50, "half way")
        return {"epochs": r.config["epochs"]}

    async with trainer(JobDef(name="fine_tune_x", run=fails_once)):
        request = job_request("fine_tune_x", queue="training", timeout=75.0,
                              config={"epochs": 3, "model": "m"})  # fmt: skip
        old_id = await enqueue(client_bus, request)
        assert (await wait_run(db, old_id))["status"] == "failed"
        capsys.readouterr()
        assert await jobs_retry(client_bus, old_id, as_json=False) == 0
        new_id = capsys.readouterr().out.strip()
        new = await wait_run(db, new_id)
        again = await _retry(client_bus, old_id)
    assert new_id != old_id
    assert (new["status"], new["results"], new["retry_of"]) == (
        "completed", {"epochs": 3}, uuid.UUID(old_id),
    )  # fmt: skip
    assert seen == [
        (old_id, "schedule", 75.0, {"epochs": 3, "model": "m"}),
        (new_id, "manual", 75.0, {"epochs": 3, "model": "m"}),
    ]
    assert (again.code, again.new_run_id) == ("already_retried", new_id)
    assert old_id in (again.error or "")


async def test_retry_of_a_cancelled_run_is_pending_before_it_runs(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """A cancelled run's retry is recorded pending (KV and event) before the trainer takes it."""
    gate = asyncio.Event()
    started: list[str] = []

    async def stoppable(run: RunContext) -> dict[str, Any]:
        started.append(run.run_id)
        await gate.wait()
        await run.progress(10, "checked")
        return {}

    async with trainer(JobDef(name="stoppable", run=stoppable)):
        old_id = await enqueue(client_bus, job_request("stoppable", queue="training"))
        await eventually(lambda: len(started) == 1)
        assert await jobs_cancel(client_bus, old_id, reason="wrong data") == 0
        gate.set()
        cancelled = await wait_run(db, old_id)
        reply = await _retry(client_bus, old_id)
        assert reply.code is None, reply.error
        new_id = reply.new_run_id or ""
        new = await wait_run(db, new_id)
        events = await _events(client_bus, new_id)
    assert (cancelled["status"], cancelled["error_message"]) == ("cancelled", "wrong data")
    assert [(kind, e.status) for kind, e in events] == [
        ("status", "pending"), ("status", "running"), ("progress", "running"),
        ("status", "completed"),
    ]  # fmt: skip
    assert (events[0][1].job, events[0][1].trigger) == ("stoppable", "manual")
    assert new["status"] == "completed"
    assert started == [old_id, new_id]


async def test_retry_is_refused_for_running_completed_and_unknown_runs(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """Running or completed: not_retryable; unknown or malformed ids: unknown_run, named."""
    gate = asyncio.Event()

    async def held(run: RunContext) -> dict[str, Any]:
        await run.progress(5, "holding")
        await gate.wait()
        return {}

    async with trainer(JobDef(name="held", run=held)):
        running_id = await enqueue(client_bus, job_request("held", queue="training"))
        await eventually(_status_is(db, running_id, "running"))
        running = await _retry(client_bus, running_id)
        gate.set()
        await wait_run(db, running_id)
        completed = await _retry(client_bus, running_id)
        missing_id = str(uuid.uuid4())
        missing = await _retry(client_bus, missing_id)
        malformed = await _retry(client_bus, "not-a-run")
        runs = await db.fetchval("SELECT count(*) FROM job_runs")
    assert (running.code, running.new_run_id) == ("not_retryable", None)
    assert f"run {running_id} of held is running" in (running.error or "")
    assert completed.code == "not_retryable"
    assert "is completed" in (completed.error or "")
    assert (missing.code, missing.error) == ("unknown_run", f"no job run {missing_id!r}")
    assert (malformed.code, malformed.error) == ("unknown_run", "no job run 'not-a-run'")
    assert runs == 1


def _status_is(db: asyncpg.Pool, run_id: str, status: str) -> Callable[[], Any]:
    async def check() -> bool:
        found = await db.fetchval("SELECT status FROM job_runs WHERE id = $1", uuid.UUID(run_id))
        return bool(found == status)

    return check


async def _nb(nats: EmbeddedNats, *args: str) -> asyncio.subprocess.Process:
    """Start the real `nb` command against the test server (the loop keeps serving)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "neuralbridge.cli.main", *args,
        env={**os.environ, "NATS_URL": nats.url}, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _line_with(proc: asyncio.subprocess.Process, marker: bytes) -> bytes:
    """The first stderr line holding ``marker`` (the watch printed it once set up)."""
    assert proc.stderr is not None
    while line := await proc.stderr.readline():
        if marker in line:
            return line
    raise AssertionError(f"`nb` exited without printing {marker!r}")


async def test_nb_jobs_watch_follows_progress_until_completed(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, trainer_nats: EmbeddedNats
) -> None:
    """`nb jobs watch --json` prints every state in order, progress rising, and exits 0."""

    async def stepped(run: RunContext) -> dict[str, Any]:
        for step in range(1, 5):
            await run.progress(step * 20, f"step {step}")
            await asyncio.sleep(0.05)
        return {}

    async with trainer(JobDef(name="stepped", run=stepped)):
        request = job_request("stepped", queue="training", tick=None)
        msg_id = f"watch-{uuid.uuid4()}"
        run_id = run_id_for(request, msg_id, "")
        proc = await _nb(trainer_nats, "jobs", "watch", run_id, "--json", "--timeout", "60")
        waiting = await asyncio.wait_for(_line_with(proc, b"has no state yet"), 60)
        assert await enqueue(client_bus, request, msg_id=msg_id) == run_id
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        await wait_run(db, run_id)
    states = [json.loads(line) for line in out.decode().splitlines()]
    progress = [s["progress_percentage"] for s in states]
    assert run_id.encode() in waiting
    assert proc.returncode == 0, err.decode()
    assert [s["status"] for s in states] == ["running"] * 5 + ["completed"]
    assert progress == [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    assert {s["run_id"] for s in states} == {run_id}


async def test_nb_jobs_watch_of_a_finished_run_prints_its_final_state(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, trainer_nats: EmbeddedNats
) -> None:
    """An already failed run: one final line with its error, exit code 1."""

    async def broken(_: RunContext) -> dict[str, Any]:
        raise RuntimeError("bad weights file")

    async with trainer(JobDef(name="broken", run=broken)):
        run_id = await enqueue(client_bus, job_request("broken", queue="training"))
        await wait_run(db, run_id)
        proc = await _nb(trainer_nats, "jobs", "watch", run_id, "--timeout", "60")
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1, err.decode()
    assert out.decode().splitlines()[-1] == f"failed: broken run {run_id} (0%): bad weights file"
