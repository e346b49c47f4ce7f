"""``GET /api/learning/report``: the trainer's stored weekly report, through the gateway.

The gateway runs next to the real trainer (its composition root, in-process,
``tests/trainer/conftest.py``) on this test's NATS and database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from nats.aio.msg import Msg

from neuralbridge.core.bus import Bus
from neuralbridge.core.db import create_pool
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.gateway.routes import learning as learning_routes
from neuralbridge.trainer.report import load_report
from tests.trainer.conftest import running_trainer
from tests.trainer.helpers import (
    NOW,
    FakeClock,
    enqueue,
    job_request,
    log_query,
    wait_ingested,
    wait_run,
)

W47 = datetime(2026, 11, 16, tzinfo=UTC)


@pytest.fixture
def trainer_env(pipeline_env: dict[str, str]) -> dict[str, str]:
    """The trainer on the gateway's NATS and database."""
    return {
        "NATS_URL": pipeline_env["NATS_URL"], "DATABASE_URL": pipeline_env["DATABASE_URL"],
        "LOG_LEVEL": "warning", "SHUTDOWN_GRACE_SECONDS": "5",
    }  # fmt: skip


@pytest.fixture
async def client_bus(pipeline_nats: EmbeddedNats) -> AsyncIterator[Bus]:
    """A connection playing the proxy pipeline and the scheduler."""
    bus = await Bus.connect(pipeline_nats.url, name="test-client")
    yield bus
    await bus.close()


def _error(resp: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = resp.json()["error"]
    return body


async def test_report_endpoint_returns_the_stored_report(
    serve: Callable[..., Any], trainer_env: dict[str, str], client_bus: Bus
) -> None:
    """404 before any report; then latest and ?week= give the stored one; bad week is 400."""
    async with (
        running_trainer(trainer_env, FakeClock(NOW), ()),
        serve(pipeline=False) as url,
        httpx.AsyncClient(timeout=30) as http,
    ):
        pool: asyncpg.Pool = await create_pool(
            trainer_env["DATABASE_URL"], schema="trainer", max_size=2
        )
        try:
            before = await http.get(f"{url}/api/learning/report")
            for hours in (1, 30):
                await log_query(client_bus, confidence=0.9, at=W47 + timedelta(hours=hours))
            await wait_ingested(pool, queries=2)
            request = job_request("learning_report", queue="learning",
                                  tick="2026-11-23T09:00:00+00:00")  # fmt: skip
            run = await wait_run(pool, await enqueue(client_bus, request))
            stored = await load_report(pool, "2026-W47")
            latest = await http.get(f"{url}/api/learning/report")
            by_week = await http.get(f"{url}/api/learning/report", params={"week": "2026-W47"})
            other = await http.get(f"{url}/api/learning/report", params={"week": "2026-W40"})
            bad = await http.get(f"{url}/api/learning/report", params={"week": "47"})
        finally:
            await pool.close()
    assert before.status_code == 404, before.text
    assert _error(before)["code"] == "report_not_found"
    assert run["status"] == "completed", run["error_message"]
    assert stored is not None
    assert latest.status_code == 200, latest.text
    assert latest.json() == msgspec.to_builtins(stored)
    assert latest.json()["metrics"]["queries"] == 2
    assert by_week.json() == latest.json()
    assert other.status_code == 404
    assert "2026-W40" in _error(other)["message"]
    assert bad.status_code == 400
    assert _error(bad)["param"] == "week"


async def test_report_endpoint_without_trainer_is_503(serve: Callable[..., Any]) -> None:
    """No trainer answering: 503 saying so, in the gateway's error shape."""
    async with serve(pipeline=False) as url, httpx.AsyncClient(timeout=30) as http:
        resp = await http.get(f"{url}/api/learning/report")
    assert resp.status_code == 503, resp.text
    assert (_error(resp)["code"], _error(resp)["message"]) == (
        "trainer_unavailable", "no trainer is answering",
    )  # fmt: skip


async def test_report_endpoint_with_a_silent_trainer_is_504(
    serve: Callable[..., Any], client_bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscriber on trainer.query.report that never replies: 504 after the timeout."""
    monkeypatch.setattr(learning_routes, "REPORT_TIMEOUT_SECONDS", 0.5)
    heard: list[bytes] = []

    async def silent(msg: Msg) -> None:
        heard.append(msg.data)

    sub = await client_bus.nc.subscribe("trainer.query.report", cb=silent)
    await client_bus.nc.flush()
    try:
        async with serve(pipeline=False) as url, httpx.AsyncClient(timeout=30) as http:
            resp = await http.get(f"{url}/api/learning/report", params={"week": "2026-W47"})
    finally:
        await sub.unsubscribe()
    assert resp.status_code == 504, resp.text
    assert _error(resp)["code"] == "trainer_timeout"
    assert [msgspec.json.decode(body) for body in heard] == [
        {"schema_version": 1, "week": "2026-W47"}
    ]
