"""The learning_report job: weekly metrics, week-over-week change, job runs, storage, CLI.

Week 2026-W47 is Monday 2026-11-16 00:00 UTC to Monday 2026-11-23 00:00 UTC; the
scheduled run at Monday 2026-11-23 09:00 reports it and compares it with W46.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest

from neuralbridge.cli import reports as cli_reports
from neuralbridge.cli.main import build_parser
from neuralbridge.core.bus import Bus
from neuralbridge.core.subjects import feedback_subject, query_log_subject
from neuralbridge.messages.learning import (
    LearningReport,
    MetricChange,
    WeeklyMetrics,
    parse_week,
    week_of,
)
from neuralbridge.messages.proxy import QueryLogged
from neuralbridge.messages.training import FeedbackGiven
from neuralbridge.trainer.report import compare, load_report
from tests.trainer.helpers import enqueue, job_request, request_id, wait_ingested, wait_run

REPORT = "learning_report"
W47 = datetime(2026, 11, 16, tzinfo=UTC)
W46 = W47 - timedelta(days=7)
MONDAY_TICK = "2026-11-23T09:00:00+00:00"


async def _log(
    bus: Bus, at: datetime, *, latency: float, confidence: float, cached: bool = False,
    fallback: bool = False,
) -> str:  # fmt: skip
    """Publish a QueryLogged event as the proxy pipeline does; return its request id."""
    rid = request_id()
    event = QueryLogged(
        request_id=rid, session_id="s1", query="q", answer="a", provider="openai", model="m",
        confidence=confidence, fallback_used=fallback, cached=cached, latency_ms=latency,
        logged_at=at.timestamp(),
    )  # fmt: skip
    await bus.publish(query_log_subject(rid), event)
    return rid


async def _feedback(bus: Bus, rid: str, score: int, at: datetime) -> None:
    """Publish FeedbackGiven as the gateway does."""
    await bus.publish(
        feedback_subject(rid), FeedbackGiven(request_id=rid, score=score, given_at=at)
    )


async def _two_weeks(bus: Bus, db: asyncpg.Pool) -> None:
    """W47: 5 queries, 5 feedbacks given; W46: 2 queries, 1 feedback; 2 outside both."""
    day = timedelta(days=1)
    q1 = await _log(bus, W47 + timedelta(hours=1), latency=100, confidence=0.9, cached=True)
    q2 = await _log(bus, W47 + day, latency=200, confidence=0.8)
    q3 = await _log(bus, W47 + 2 * day, latency=300, confidence=0.5, fallback=True)
    q4 = await _log(bus, W47 + 3 * day, latency=400, confidence=0.6, cached=True)
    await _log(bus, W47 + 7 * day - timedelta(seconds=1), latency=1000, confidence=0.7,
                    fallback=True)  # fmt: skip
    q6 = await _log(bus, W46, latency=100, confidence=0.5)
    q7 = await _log(bus, W46 + 6 * day, latency=300, confidence=0.7, cached=True)
    await _log(bus, W47 + 7 * day, latency=9999, confidence=0.1)  # W48: not counted
    await _log(bus, W46 - timedelta(seconds=1), latency=9999, confidence=0.1)  # W45
    for rid, score in ((q1, 5), (q2, 4), (q3, 2), (q4, 4)):
        await _feedback(bus, rid, score, W47 + 4 * day)
    await _feedback(bus, q6, 1, W47 + timedelta(minutes=5))  # on a W46 query, given in W47
    await _feedback(bus, q7, 3, W46 + 6 * day)
    await wait_ingested(db, queries=9, feedback=6)
    await db.execute("UPDATE query_logs SET used_for_training = true WHERE request_id = $1", q2)


def _change(current: float | None, previous: float | None, absolute: float | None,
            relative: float | None) -> dict[str, float | None]:  # fmt: skip
    return {"current": current, "previous": previous, "absolute": absolute, "relative": relative}


async def test_report_matches_hand_computed_metrics_and_changes(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """Monday 09:00 tick → W47 vs W46, every metric and change as computed by hand."""
    async with trainer():
        await _two_weeks(client_bus, db)
        row = await wait_run(db, await enqueue(client_bus, job_request(
            REPORT, queue="learning", tick=MONDAY_TICK)))  # fmt: skip
    assert row["status"] == "completed", row["error_message"]
    assert row["results"]["week"] == "2026-W47"
    stored = msgspec.json.decode(
        await db.fetchval("SELECT report FROM learning_reports WHERE week = '2026-W47'")
    )
    assert (stored["week_start"], stored["week_end"]) == (
        "2026-11-16T00:00:00+00:00", "2026-11-23T00:00:00+00:00",
    )  # fmt: skip
    assert (stored["previous_week"], stored["complete"], stored["run_id"]) == (
        "2026-W46", True, str(row["id"]),
    )  # fmt: skip
    assert stored["metrics"] == {
        "queries": 5, "cache_hit_rate": 0.4, "mean_latency_ms": 400.0,
        "p95_latency_ms": 880.0,  # 400 + 0.8 * (1000 - 400)
        "mean_confidence": 0.7, "high_confidence_responses": 2, "fallbacks": 2,
        "fallback_rate": 0.4, "feedback_rate": 0.8, "feedback_count": 5, "mean_score": 3.2,
        "positive_rate": 0.6, "quality_scores": {"1": 1, "2": 1, "3": 0, "4": 2, "5": 1},
        "learning_examples": 3, "approved_examples": 1, "pending_examples": 2,
        "job_runs": 0, "failed_job_runs": 0, "failed_job_rate": None,
    }  # fmt: skip
    assert stored["previous"]["p95_latency_ms"] == 290.0  # 100 + 0.95 * 200
    changes = stored["changes"]
    assert changes["queries"] == _change(5, 2, 3, 1.5)
    assert changes["cache_hit_rate"] == _change(0.4, 0.5, -0.1, -0.2)
    assert changes["mean_latency_ms"] == _change(400.0, 200.0, 200.0, 1.0)
    assert changes["p95_latency_ms"] == _change(880.0, 290.0, 590.0, 2.0345)
    assert changes["mean_confidence"] == _change(0.7, 0.6, 0.1, 0.1667)
    assert changes["feedback_rate"] == _change(0.8, 1.0, -0.2, -0.2)  # q6 and q7 have feedback
    assert changes["feedback_count"] == _change(5, 1, 4, 4.0)
    assert changes["mean_score"] == _change(3.2, 3.0, 0.2, 0.0667)
    # previous value 0: the absolute change, no relative one
    assert changes["positive_rate"] == _change(0.6, 0.0, 0.6, None)
    assert changes["fallbacks"] == _change(2, 0, 2, None)
    assert changes["learning_examples"] == _change(3, 0, 3, None)
    assert changes["failed_job_rate"] == _change(None, None, None, None)
    assert "quality_scores" not in changes


async def test_previous_week_without_data_has_no_change(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """config.week W45 (W44 empty): means compare with nothing, counts with 0; never / 0."""
    async with trainer():
        await _two_weeks(client_bus, db)
        request = job_request(REPORT, queue="learning", tick=None, config={"week": "2026-W45"})
        row = await wait_run(db, await enqueue(client_bus, request))
        report = await load_report(db, "2026-W45")
    assert row["status"] == "completed", row["error_message"]
    assert report is not None
    assert (report.previous_week, report.previous.queries) == ("2026-W44", 0)
    assert report.previous.mean_latency_ms is None
    c = report.changes
    assert c["queries"] == MetricChange(current=1, previous=0, absolute=1, relative=None)
    assert c["mean_latency_ms"] == MetricChange(
        current=9999.0, previous=None, absolute=None, relative=None
    )
    assert c["cache_hit_rate"] == MetricChange(
        current=0.0, previous=None, absolute=None, relative=None
    )
    nothing = MetricChange(current=None, previous=None, absolute=None, relative=None)
    assert c["mean_score"] == nothing


async def _insert_run(
    db: asyncpg.Pool, job: str, status: str, started: datetime, *,
    results: dict[str, Any] | None = None, error: str | None = None, queue: str = "training",
) -> str:  # fmt: skip
    run_id = uuid.uuid4()
    await db.execute(
        """
        INSERT INTO job_runs (id, job, queue, trigger, status, results, error_message, attempt,
                              created_at, started_at, finished_at)
        VALUES ($1, $2, $3, 'schedule', $4, $5, $6, 1, $7, $7, $8)
        """,
        run_id, job, queue, status, None if results is None else json.dumps(results), error,
        started, None if status == "running" else started + timedelta(seconds=90),
    )  # fmt: skip
    return str(run_id)


async def test_week_job_runs_listed_with_outcomes_and_results(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """Each run started in the week, with status, error and results; failed rate and its WoW."""
    async with trainer():
        evaluation = {"evaluation": {"accuracy": 0.91}, "model": "ft-1"}
        ok = await _insert_run(db, "fine_tune", "completed", W47 + timedelta(hours=3),
                               results=evaluation)  # fmt: skip
        bad = await _insert_run(db, "rag_training", "failed", W47 + timedelta(days=2),
                                error="embedder unreachable", queue="learning")  # fmt: skip
        await _insert_run(db, "rag_training", "cancelled", W47 + timedelta(days=3),
                          error="insufficient data: 3 pairs", queue="learning")  # fmt: skip
        await _insert_run(db, "distillation", "running", W47 + timedelta(days=6))
        await _insert_run(db, "fine_tune", "failed", W46 + timedelta(days=1), error="boom")
        await _insert_run(db, "fine_tune", "completed", W46 + timedelta(days=2))
        await _insert_run(db, "fine_tune", "completed", W47 + timedelta(days=7))  # W48
        row = await wait_run(db, await enqueue(client_bus, job_request(
            REPORT, queue="learning", tick=MONDAY_TICK)))  # fmt: skip
        report = await load_report(db, "2026-W47")
    assert row["status"] == "completed", row["error_message"]
    assert report is not None
    assert [(r.run_id, r.job, r.status) for r in report.runs[:2]] == [
        (ok, "fine_tune", "completed"), (bad, "rag_training", "failed"),
    ]  # fmt: skip
    assert report.runs[0].results == evaluation
    assert report.runs[0].duration_ms == 90000.0
    assert report.runs[1].error_message == "embedder unreachable"
    assert [r.status for r in report.runs] == ["completed", "failed", "cancelled", "running"]
    assert report.runs[3].finished_at is None
    assert report.runs_omitted == 0
    assert msgspec.to_builtins(report.jobs) == {
        "distillation": {"runs": 1, "completed": 0, "failed": 0, "cancelled": 0, "other": 1},
        "fine_tune": {"runs": 1, "completed": 1, "failed": 0, "cancelled": 0, "other": 0},
        "rag_training": {"runs": 2, "completed": 0, "failed": 1, "cancelled": 1, "other": 0},
    }
    m = report.metrics
    assert (m.job_runs, m.failed_job_runs, m.failed_job_rate) == (4, 1, 0.5)
    assert report.changes["failed_job_rate"] == MetricChange(
        current=0.5, previous=0.5, absolute=0.0, relative=0.0
    )
    assert report.changes["job_runs"] == MetricChange(
        current=4, previous=2, absolute=2, relative=1.0
    )


async def test_rerun_of_the_same_week_replaces_the_stored_report(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """Two runs for W47 leave one row, holding the second run's numbers."""
    async with trainer():
        await _log(client_bus, W47 + timedelta(hours=5), latency=50, confidence=0.9)
        await wait_ingested(db, queries=1)
        manual = job_request(REPORT, queue="learning", tick=None, config={"week": "2026-W47"})
        first = await wait_run(db, await enqueue(client_bus, manual))
        await _log(client_bus, W47 + timedelta(hours=6), latency=150, confidence=0.7)
        await wait_ingested(db, queries=2)
        second = await wait_run(db, await enqueue(client_bus, manual))
        rows = await db.fetch("SELECT week, run_id FROM learning_reports")
        report = await load_report(db)
    assert first["status"] == second["status"] == "completed"
    assert first["id"] != second["id"]
    assert [(r["week"], r["run_id"]) for r in rows] == [("2026-W47", second["id"])]
    assert report is not None
    assert report.run_id == str(second["id"])
    assert (report.metrics.queries, report.metrics.mean_latency_ms) == (2, 100.0)


@pytest.mark.parametrize(
    ("week", "reason"),
    [
        ("2026-47", "invalid config week: week must be YYYY-Www (e.g. 2026-W47), not '2026-47'"),
        ("2026-W54", "invalid config week: week '2026-W54' does not exist (ISO year 2026)"),
        ("2026-W49", "invalid config week: 2026-W49 has not started yet"),
    ],
)
async def test_bad_config_week_cancels_the_run_with_the_reason(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, week: str, reason: str
) -> None:
    """A malformed, impossible or future week: cancelled, nothing stored."""
    async with trainer():
        request = job_request(REPORT, queue="learning", tick=MONDAY_TICK, config={"week": week})
        row = await wait_run(db, await enqueue(client_bus, request))
        stored = await db.fetchval("SELECT count(*) FROM learning_reports")
    assert (row["status"], row["error_message"]) == ("cancelled", reason)
    assert stored == 0


async def test_cli_prints_the_stored_report(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """``nb jobs report`` (latest / --week / --json) shows what the trainer stored."""
    async with trainer():
        await _two_weeks(client_bus, db)
        assert await cli_reports.jobs_report(client_bus) == 1  # nothing stored yet
        assert "no learning report for any week" in capsys.readouterr().err
        await wait_run(db, await enqueue(client_bus, job_request(
            REPORT, queue="learning", tick=MONDAY_TICK)))  # fmt: skip
        stored = await load_report(db, "2026-W47")
        assert await cli_reports.jobs_report(client_bus, week="2026-W47", as_json=True) == 0
        as_json = capsys.readouterr().out
        assert await cli_reports.jobs_report(client_bus) == 0
        text = capsys.readouterr().out
        assert await cli_reports.jobs_report(client_bus, week="2026-W40") == 1
        missing = capsys.readouterr().err
    assert stored is not None
    assert msgspec.convert(json.loads(as_json), LearningReport) == stored
    assert "learning report 2026-W47" in text
    lines = {line.split()[0]: line.split()[1:] for line in text.splitlines()[3:] if line.strip()}
    assert lines["queries"] == ["5", "2", "+3", "(+150.0%)"]
    assert lines["cache_hit_rate"] == ["40.0%", "50.0%", "-10.0", "pp", "(-20.0%)"]
    assert lines["positive_rate"] == ["60.0%", "0.0%", "+60.0", "pp", "(n/a)"]
    assert lines["failed_job_rate"] == ["n/a", "n/a", "n/a"]
    assert "no learning report for week 2026-W40" in missing


async def test_cli_rejects_a_bad_week_and_reports_a_missing_trainer(
    client_bus: Bus, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad --week is exit 2 naming it; no trainer running is exit 1 saying so."""
    assert await cli_reports.jobs_report(client_bus, week="W47") == 2
    assert "--week: week must be YYYY-Www" in capsys.readouterr().err
    assert await cli_reports.jobs_report(client_bus, timeout=2) == 1
    assert "no trainer answered" in capsys.readouterr().err


def test_cli_parser_accepts_jobs_report() -> None:
    """``nb jobs report --week 2026-W47 --json`` parses to the report command."""
    args = build_parser().parse_args(["jobs", "report", "--week", "2026-W47", "--json"])
    assert (args.jobs_command, args.week, args.json) == ("report", "2026-W47", True)


def test_weeks_are_iso_weeks_in_utc() -> None:
    """Weeks start Monday 00:00 UTC; ISO years differ from calendar years at the edges."""
    assert parse_week("2026-W47") == W47
    assert week_of(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"
    assert parse_week("2026-W01") == datetime(2025, 12, 29, tzinfo=UTC)
    with pytest.raises(ValueError, match="does not exist"):
        parse_week("2025-W53")


def test_compare_never_divides_by_zero() -> None:
    """Previous 0 → relative None; previous None → both None."""
    zero = WeeklyMetrics(
        queries=0, cache_hit_rate=None, mean_latency_ms=None, p95_latency_ms=None,
        mean_confidence=None, high_confidence_responses=0, fallbacks=0, fallback_rate=0.0,
        feedback_rate=None, feedback_count=0, mean_score=None, positive_rate=None,
        quality_scores={}, learning_examples=0, approved_examples=0, pending_examples=0,
        job_runs=0, failed_job_runs=0, failed_job_rate=None,
    )  # fmt: skip
    now = msgspec.structs.replace(zero, queries=4, fallback_rate=0.25, mean_latency_ms=10.0)
    changes = compare(now, zero)
    assert changes["queries"] == MetricChange(current=4, previous=0, absolute=4, relative=None)
    assert changes["fallback_rate"].relative is None
    assert changes["mean_latency_ms"].absolute is None
    assert compare(zero, now)["queries"].relative == -1.0
