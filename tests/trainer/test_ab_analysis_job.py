"""The ab_test_analysis job end to end: experiment created over NATS, events in, decision out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from neuralbridge.cli import ab as cli_ab
from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import decode
from neuralbridge.core.subjects import AB_EXPERIMENTS_KV, query_log_subject
from neuralbridge.messages.experiments import Experiment
from neuralbridge.messages.proxy import QueryLogged
from tests.support.waiting import eventually
from tests.trainer.helpers import (
    NOW,
    FakeClock,
    enqueue,
    give_feedback,
    job_request,
    request_id,
    wait_run,
)

JOB = "ab_test_analysis"
VARIANTS = ["control", "mini:provider=openai,model=gpt-4o-mini"]


async def _create(bus: Bus, clock: FakeClock, capsys: pytest.CaptureFixture[str]) -> str:
    """Create the experiment two hours before ``NOW`` with the CLI; return its id."""
    clock.now = NOW - timedelta(hours=2)
    code = await cli_ab.ab_create(bus, name="cheaper model", kind="provider", variants=VARIANTS)
    clock.now = NOW
    out = capsys.readouterr().out
    assert code == 0, out
    return out.split()[0]


async def _answers(bus: Bus, experiment: str, variant: str, *, sessions: int, positive: int,
                   latency: float = 100.0) -> None:  # fmt: skip
    """One rated answer per session: the first ``positive`` scored 5, the others 2."""
    for i in range(sessions):
        rid = request_id()
        event = QueryLogged(
            request_id=rid, session_id=f"{variant}-{i}", query="q", answer="a",
            provider="openai", model="m", confidence=0.9, fallback_used=False, cached=False,
            latency_ms=latency + i % 7, logged_at=(NOW - timedelta(minutes=30)).timestamp(),
            experiment=experiment, variant=variant,
        )  # fmt: skip
        await bus.publish(query_log_subject(rid), event)
        await give_feedback(bus, rid, 5 if i < positive else 2)


async def _wait_assigned(db: asyncpg.Pool, answers: int, feedback: int) -> None:
    async def done() -> bool:
        q = await db.fetchval("SELECT count(*) FROM query_logs WHERE variant IS NOT NULL")
        f = await db.fetchval("SELECT count(*) FROM feedback")
        return bool(q == answers and f == feedback)

    await eventually(done, timeout=30)


async def _kv_state(bus: Bus, experiment: str) -> Experiment:
    kv = await bus.js.key_value(AB_EXPERIMENTS_KV)
    entry = await kv.get(experiment)
    assert entry.value is not None
    return decode(entry.value, Experiment)


async def test_experiment_concludes_with_the_better_variant_as_winner(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """60 rated answers per arm, 20% vs 80% positive, minimum 50: mini wins, stored, mirrored."""
    async with trainer(AB_TEST_MIN_SAMPLE_SIZE="50"):
        eid = await _create(client_bus, clock, capsys)
        await _answers(client_bus, eid, "control", sessions=60, positive=12, latency=300.0)
        await _answers(client_bus, eid, "mini", sessions=60, positive=48, latency=100.0)
        await _wait_assigned(db, 120, 120)
        row = await wait_run(db, await enqueue(client_bus, job_request(JOB, queue="learning")))
        mirrored = await _kv_state(client_bus, eid)
    assert row["status"] == "completed", row["error_message"]
    analysis = row["results"]["experiments"][eid]
    assert analysis["decision"] == "concluded"
    assert analysis["winner"] == "mini"
    assert row["results"]["concluded"] == [eid]
    control, mini = analysis["arms"]
    assert (control["rated"], control["positive"], mini["rated"], mini["positive"]) == (
        60, 12, 60, 48)  # fmt: skip
    assert mini["positive_rate"] == pytest.approx(0.8)
    assert analysis["always_valid_p"] < 0.05
    assert analysis["positive_rate_p"] < 1e-6
    assert analysis["latency_p"] < 1e-6  # 300 ms vs 100 ms
    assert analysis["score_p"] < 1e-6
    assert not analysis["srm_flagged"]
    stored = await db.fetchrow("SELECT * FROM ab_experiments WHERE id = $1", eid)
    assert stored is not None
    assert (stored["status"], stored["winner"]) == ("concluded", "mini")
    assert stored["concluded_at"] == NOW
    assert (mirrored.status, mirrored.winner) == ("concluded", "mini")


async def test_significant_difference_below_the_minimum_sample_keeps_running(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The same data with AB_TEST_MIN_SAMPLE_SIZE=100: significant, but no winner yet."""
    async with trainer(AB_TEST_MIN_SAMPLE_SIZE="100"):
        eid = await _create(client_bus, clock, capsys)
        await _answers(client_bus, eid, "control", sessions=60, positive=12)
        await _answers(client_bus, eid, "mini", sessions=60, positive=48)
        await _wait_assigned(db, 120, 120)
        row = await wait_run(db, await enqueue(client_bus, job_request(JOB, queue="learning")))
    analysis = row["results"]["experiments"][eid]
    assert (analysis["decision"], analysis["winner"]) == ("continue", None)
    assert "waiting for 100 rated answers" in analysis["reason"]
    stored = await db.fetchrow("SELECT * FROM ab_experiments WHERE id = $1", eid)
    assert stored is not None
    assert (stored["status"], stored["winner"]) == ("running", None)
    assert stored["always_valid_p"] == pytest.approx(analysis["always_valid_p"])
    assert stored["always_valid_p"] < 0.05


async def test_no_difference_is_not_concluded(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Both arms 50% positive with enough samples: not significant, still running."""
    async with trainer(AB_TEST_MIN_SAMPLE_SIZE="50"):
        eid = await _create(client_bus, clock, capsys)
        await _answers(client_bus, eid, "control", sessions=60, positive=30)
        await _answers(client_bus, eid, "mini", sessions=60, positive=30)
        await _wait_assigned(db, 120, 120)
        row = await wait_run(db, await enqueue(client_bus, job_request(JOB, queue="learning")))
    analysis = row["results"]["experiments"][eid]
    assert analysis["decision"] == "continue"
    assert analysis["reason"].startswith("not significant yet")
    assert await db.fetchval("SELECT status FROM ab_experiments WHERE id = $1", eid) == "running"


async def test_sample_ratio_mismatch_withholds_the_decision_and_records_why(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """80 vs 40 sessions on equal weights (p < 0.001): a big effect, but no conclusion."""
    async with trainer(AB_TEST_MIN_SAMPLE_SIZE="30"):
        eid = await _create(client_bus, clock, capsys)
        await _answers(client_bus, eid, "control", sessions=80, positive=16)
        await _answers(client_bus, eid, "mini", sessions=40, positive=36)
        await _wait_assigned(db, 120, 120)
        row = await wait_run(db, await enqueue(client_bus, job_request(JOB, queue="learning")))
    analysis = row["results"]["experiments"][eid]
    assert analysis["srm_flagged"]
    assert analysis["srm_p"] < 0.001
    assert (analysis["decision"], analysis["winner"]) == ("srm", None)
    stored = await db.fetchrow("SELECT status, reason FROM ab_experiments WHERE id = $1", eid)
    assert stored is not None
    assert stored["status"] == "running"
    assert stored["reason"].startswith("sample ratio mismatch")


async def test_experiment_requests_validate_allow_one_running_and_stop(
    trainer: Callable[..., Any], client_bus: Bus, clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Bad specs and a second running experiment are refused with a reason; stop ends one."""
    async with trainer():
        bad = await cli_ab.ab_create(client_bus, name="x", kind="provider",
                                     variants=["a", "a:model=m"])  # fmt: skip
        assert bad == 1
        assert "variant names must be unique" in capsys.readouterr().err
        mixed = await cli_ab.ab_create(client_bus, name="x", kind="prompt",
                                       variants=["a", "b:model=m"])  # fmt: skip
        assert mixed == 1
        assert "cannot set ['model']" in capsys.readouterr().err
        assert await cli_ab.ab_create(client_bus, name="x", kind="nope", variants=["a", "b"]) == 2
        capsys.readouterr()
        eid = await _create(client_bus, clock, capsys)
        second = await cli_ab.ab_create(client_bus, name="y", kind="provider", variants=VARIANTS)
        assert second == 1
        assert f"experiment {eid} is running" in capsys.readouterr().err
        assert await cli_ab.ab_stop(client_bus, eid, reason="changed plans") == 0
        assert (await _kv_state(client_bus, eid)).status == "stopped"
        assert await cli_ab.ab_stop(client_bus, eid, reason="again") == 1
        assert "already stopped" in capsys.readouterr().err
        assert await cli_ab.ab_list(client_bus, as_json=False) == 0
    listing = capsys.readouterr().out
    assert eid in listing
    assert "stopped" in listing
    assert "changed plans" in listing


async def test_analysis_with_no_running_experiment_completes_empty(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """Nothing to analyse is a completed run with no experiments, not a failure."""
    async with trainer():
        row = await wait_run(db, await enqueue(client_bus, job_request(JOB, queue="learning")))
    assert row["status"] == "completed", row["error_message"]
    assert row["results"]["experiments"] == {}
    assert row["results"]["alpha"] == pytest.approx(0.05)
