"""``/api/jobs``: stats, failed runs, live state, retry and cancel, next to a real trainer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from nats.aio.msg import Msg

from neuralbridge.core.bus import Bus
from neuralbridge.gateway.routes import jobs as jobs_routes
from neuralbridge.trainer.runs import JobDef, RunContext
from tests.gateway.conftest import running_gateway
from tests.support.waiting import eventually
from tests.trainer.conftest import client_bus, clock, db, trainer, trainer_env, trainer_nats
from tests.trainer.helpers import enqueue, job_request, wait_run

__all__ = ["client_bus", "clock", "db", "trainer", "trainer_env", "trainer_nats"]


async def test_failed_run_is_listed_and_retried_through_the_api(
    trainer: Callable[..., Any], trainer_env: dict[str, str], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """A failed run: its state, the failed list, stats; its retry (202) completes; twice: 409."""
    calls: list[str] = []

    async def fails_once(run: RunContext) -> dict[str, Any]:
        calls.append(run.run_id)
        if len(calls) == 1:
            raise RuntimeError("upstream trainer crashed")
        await run.progress(60, "training")
        return {"ok": True}

    async with (
        trainer(JobDef(name="api_train", run=fails_once)),
        running_gateway(trainer_env) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        old_id = await enqueue(client_bus, job_request("api_train", queue="training"))
        await wait_run(db, old_id)
        state = await http.get(f"/api/jobs/{old_id}")
        failed = await http.get("/api/jobs/failed", params={"limit": 5})
        stats = await http.get("/api/jobs/stats")
        retry = await http.post(f"/api/jobs/{old_id}/retry")
        new_id = retry.json()["new_run_id"]
        await wait_run(db, new_id)
        new_state = await http.get(f"/api/jobs/{new_id}")
        again = await http.post(f"/api/jobs/{old_id}/retry")
    assert state.status_code == 200, state.text
    assert (state.json()["status"], state.json()["error_message"]) == (
        "failed", "upstream trainer crashed",
    )  # fmt: skip
    assert [(r["run_id"], r["error_message"]) for r in failed.json()] == [
        (old_id, "upstream trainer crashed")
    ]
    assert stats.json()["jobs_by_status"]["failed"] == 1
    assert stats.json()["queue_performance"]["training"]["success_rate"] == 0.0
    assert retry.status_code == 202, retry.text
    assert (retry.json()["job"], retry.json()["queue"]) == ("api_train", "training")
    assert calls == [old_id, new_id]
    assert (new_state.json()["status"], new_state.json()["progress_percentage"]) == (
        "completed", 100.0,
    )  # fmt: skip
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_retried"
    assert new_id in again.json()["error"]["message"]


async def test_cancel_through_the_api_stops_a_running_run(
    trainer: Callable[..., Any], trainer_env: dict[str, str], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """POST cancel: 202, the run ends cancelled with the reason; retry while running is 409."""
    steps: list[int] = []

    async def long_job(run: RunContext) -> dict[str, Any]:
        for step in range(1, 201):
            steps.append(step)
            await run.progress(step / 2, f"step {step}")
            await asyncio.sleep(0.05)
        return {}

    async with (
        trainer(JobDef(name="api_long", run=long_job)),
        running_gateway(trainer_env) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        run_id = await enqueue(client_bus, job_request("api_long", queue="training"))
        await eventually(lambda: len(steps) >= 2)
        busy = await http.post(f"/api/jobs/{run_id}/retry")
        cancel = await http.post(f"/api/jobs/{run_id}/cancel", params={"reason": "wrong dataset"})
        row = await wait_run(db, run_id)
        await eventually(_kv_status(client_bus, run_id, "cancelled"))
        late = await http.post(f"/api/jobs/{run_id}/cancel")
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "not_retryable"
    assert cancel.status_code == 202, cancel.text
    assert cancel.json() == {"run_id": run_id, "status": "cancel_requested",
                             "reason": "wrong dataset"}  # fmt: skip
    assert (row["status"], row["error_message"]) == ("cancelled", "wrong dataset")
    assert late.status_code == 409
    assert "already ended cancelled" in late.json()["error"]["message"]


def _kv_status(bus: Bus, run_id: str, status: str) -> Callable[[], Any]:
    async def check() -> bool:
        entry = await (await bus.js.key_value("trainer_runs")).get(run_id)
        return status.encode() in (entry.value or b"")

    return check


async def test_unknown_run_ids_are_404_naming_the_id(
    trainer: Callable[..., Any], trainer_env: dict[str, str]
) -> None:
    """GET, retry and cancel of an id the trainer never saw: 404 with the id in the message.

    An id that cannot be a run id (a dot, a star, 4,100 characters) is a 400 naming it.
    """
    missing = str(uuid.uuid4())
    async with (
        trainer(),
        running_gateway(trainer_env) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        answers = [
            await http.get(f"/api/jobs/{missing}"),
            await http.post(f"/api/jobs/{missing}/retry"),
            await http.post(f"/api/jobs/{missing}/cancel"),
        ]
        odd = await http.get("/api/jobs/no.such*run")
        long = await http.get(f"/api/jobs/{'x' * 4100}")
    for resp in answers:
        assert resp.status_code == 404, resp.text
        assert resp.json()["error"]["message"] == f"no job run {missing!r}"
        assert resp.json()["error"]["param"] == "run_id"
    for bad in (odd, long):
        assert bad.status_code == 400, bad.text  # cannot be a run id: refused before NATS
        assert bad.json()["error"]["param"] == "run_id"


async def test_without_a_trainer_job_endpoints_are_503(trainer_env: dict[str, str]) -> None:
    """No trainer subscribed and no trainer bucket: 503 saying the trainer is not there."""
    async with (
        running_gateway(trainer_env) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        stats = await http.get("/api/jobs/stats")
        failed = await http.get("/api/jobs/failed")
        state = await http.get(f"/api/jobs/{uuid.uuid4()}")
        retry = await http.post(f"/api/jobs/{uuid.uuid4()}/retry")
    assert [r.status_code for r in (stats, failed, state, retry)] == [503] * 4
    assert stats.json()["error"]["message"] == "no trainer answered (is it running?)"
    assert "has not started yet" in state.json()["error"]["message"]


async def test_a_trainer_that_does_not_answer_is_504(
    trainer_env: dict[str, str], client_bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscriber on trainer.query.stats that never replies: 504 after the trainer timeout."""
    monkeypatch.setattr(jobs_routes, "TRAINER_TIMEOUT", 0.5)
    heard: list[str] = []

    async def silent(msg: Msg) -> None:
        heard.append(msg.subject)

    sub = await client_bus.nc.subscribe("trainer.query.stats", cb=silent)
    await client_bus.nc.flush()
    try:
        async with (
            running_gateway(trainer_env) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            resp = await http.get("/api/jobs/stats")
    finally:
        await sub.unsubscribe()
    assert resp.status_code == 504, resp.text
    assert resp.json()["error"]["code"] == "trainer_timeout"
    assert heard == ["trainer.query.stats"]
