"""The training_dataset_analysis job, end to end: events in, statistics, decision, enqueue."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from neuralbridge.cli import jobs as cli_jobs
from neuralbridge.core.bus import Bus
from neuralbridge.trainer.analysis import TrainingStats
from tests.trainer.helpers import (
    NOW,
    TICK,
    enqueue,
    give_feedback,
    job_request,
    log_query,
    wait_ingested,
    wait_run,
)

ANALYSIS = "training_dataset_analysis"


async def _populate(bus: Bus, *, total: int, confidence: float, fallbacks: int,
                    positive: int) -> None:  # fmt: skip
    """``total`` queries now; the first ``fallbacks`` used API B; ``positive`` scored 5."""
    for i in range(total):
        rid = await log_query(bus, confidence=confidence, fallback=i < fallbacks)
        if i >= total - positive:
            await give_feedback(bus, rid, 5)


async def test_stats_from_ingested_events_match_hand_computed_values(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """Window [now-24h, now): 10 queries counted, duplicates and older ones not."""
    async with trainer():
        confidences = [0.9, 0.8, 0.8, 0.5, 0.5, 0.25, 0.75, 1.0, 0.5, 0.5]  # sum 6.5
        rids = []
        for i, c in enumerate(confidences):
            at = NOW - timedelta(hours=24) if i == 0 else NOW - timedelta(minutes=i)
            rids.append(await log_query(client_bus, confidence=c, fallback=i in (3, 4, 5), at=at))
        await log_query(client_bus, confidence=0.9, rid=rids[1])  # redelivered: ignored
        old = await log_query(client_bus, confidence=0.1, at=NOW - timedelta(hours=24, seconds=1))
        await log_query(client_bus, confidence=0.1, at=NOW)  # at `until`: not in the window
        for rid, score in zip(rids[:4], (5, 4, 3, 1), strict=True):
            await give_feedback(client_bus, rid, score)
        await give_feedback(client_bus, old, 5)  # feedback on a query outside the window
        await wait_ingested(db, queries=12, feedback=5)
        row = await wait_run(db, await enqueue(client_bus, job_request(ANALYSIS)))
    assert row["status"] == "completed", row["error_message"]
    assert row["results"]["stats"] == {
        "total_queries": 10,
        "avg_confidence": 0.65,
        "api_b_fallbacks": 3,
        "high_confidence_responses": 4,  # 0.9, 0.8, 0.8, 1.0
        "user_feedback_available": 4,
        "positive_feedback": 2,  # scores 5 and 4
        "fallback_rate": 0.3,
        "feedback_rate": 0.4,
    }
    assert row["results"]["decision"] == "no_action_needed"


async def test_fine_tune_enqueued_at_the_rule_edge_with_seed_config(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """50 positive, confidence exactly 0.6, fallback 29/100 → fine_tune with lr 0.0001."""
    async with trainer():
        await _populate(client_bus, total=100, confidence=0.6, fallbacks=29, positive=50)
        await wait_ingested(db, queries=100, feedback=50)
        row = await wait_run(db, await enqueue(client_bus, job_request(ANALYSIS)))
        fine_tune = await wait_run(db, await _training_run_id(db, "fine_tune"))
    assert row["results"]["decision"] == "fine_tune"
    assert row["results"]["config"] == {
        "trigger_reason": "daily_analysis", "dataset_limit": 100,
        "learning_rate": 0.0001, "epochs": 3,
    }  # fmt: skip
    assert (fine_tune["status"], fine_tune["queue"]) == ("cancelled", "training")
    assert fine_tune["error_message"] == (
        "fine_tune: no training backend configured (OPENAI_API_KEY is not set)"
    )
    assert json.loads(fine_tune["config"])["dataset_limit"] == 100


async def test_fallback_rate_exactly_0_3_does_not_fine_tune(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """fallback_rate must be strictly below 0.3: 30/100 triggers nothing."""
    async with trainer():
        await _populate(client_bus, total=100, confidence=0.6, fallbacks=30, positive=50)
        await wait_ingested(db, queries=100, feedback=50)
        row = await wait_run(db, await enqueue(client_bus, job_request(ANALYSIS)))
    assert row["results"]["decision"] == "no_action_needed"
    assert await db.fetchval("SELECT count(*) FROM job_runs") == 1


async def test_distillation_enqueued_when_fallbacks_dominate(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """100 fallbacks of 240 (0.4167 > 0.4) → distillation on the training queue."""
    async with trainer():
        await _populate(client_bus, total=240, confidence=0.5, fallbacks=100, positive=0)
        await wait_ingested(db, queries=240)
        row = await wait_run(db, await enqueue(client_bus, job_request(ANALYSIS)))
        distillation = await wait_run(db, await _training_run_id(db, "distillation"))
    assert row["results"]["decision"] == "distillation"
    assert json.loads(distillation["config"]) == {
        "trigger_reason": "daily_analysis", "sample_limit": 100,
        "teacher_confidence_threshold": 0.8,
    }  # fmt: skip
    assert (distillation["trigger"], distillation["tick"]) == ("schedule", TICK)
    assert distillation["status"] == "cancelled"


async def test_insufficient_data_is_cancelled_and_not_redelivered(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """9 queries (< 10) → cancelled with the reason, acked once, nothing in the DLQ."""
    async with trainer():
        await _populate(client_bus, total=9, confidence=0.9, fallbacks=0, positive=0)
        await wait_ingested(db, queries=9)
        row = await wait_run(db, await enqueue(client_bus, job_request(ANALYSIS)))
        consumer = await client_bus.js.consumer_info("JOBS_DEFAULT", "trainer-default")
        dlq = await client_bus.js.stream_info("DLQ_JOBS_DEFAULT")
        outcome = await (await client_bus.js.key_value("job_results")).get(ANALYSIS)
        await cli_jobs.scheduler_status(client_bus, as_json=True)
    assert row["status"] == "cancelled"
    assert row["error_message"] == "insufficient data: 9 queries in the window (at least 10 needed)"
    assert row["attempt"] == 1
    assert (consumer.num_ack_pending, consumer.num_redelivered, consumer.num_pending) == (0, 0, 0)
    assert dlq.state.messages == 0
    assert json.loads(outcome.value or b"")["status"] == "cancelled"
    status = {r["job"]: r for r in json.loads(capsys.readouterr().out)}
    assert status[ANALYSIS]["last_outcome"] == "cancelled"


async def _training_run_id(db: asyncpg.Pool, job: str) -> str:
    from tests.support.waiting import eventually

    found: list[str] = []

    async def exists() -> bool:
        value = await db.fetchval("SELECT id FROM job_runs WHERE job = $1", job)
        if value is not None:
            found.append(str(value))
        return value is not None

    await eventually(exists, timeout=20)
    return found[0]


def test_training_stats_fields_are_the_seeds() -> None:
    """The statistics carry exactly seed 000's eight names."""
    assert set(TrainingStats.__struct_fields__) == {
        "total_queries", "avg_confidence", "api_b_fallbacks", "high_confidence_responses",
        "user_feedback_available", "positive_feedback", "fallback_rate", "feedback_rate",
    }  # fmt: skip
