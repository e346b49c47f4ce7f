"""The fine_tune job end to end: query logs + feedback in, JSONL uploaded, upstream job followed.

The trainer runs for real (its own nats-server and database); OpenAI's files
and fine-tuning API is :class:`FakeOpenAIFineTuneServer`, which walks a job
through ``validating_files`` → ``queued`` → ``running`` → ``succeeded`` /
``failed`` one status per poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from nats.errors import TimeoutError as NatsTimeoutError

from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import decode
from neuralbridge.core.subjects import (
    TRAINER_CANCELS_KV,
    TRAINER_RUNS_KV,
    feedback_subject,
    query_log_subject,
)
from neuralbridge.guardrails import find_pii
from neuralbridge.messages.proxy import QueryLogged
from neuralbridge.messages.training import FeedbackGiven, JobRunState
from neuralbridge.trainer.runs import run_id_for
from tests.support.fake_openai_finetune import FakeFile, FakeOpenAIFineTuneServer
from tests.support.provider_fixtures import API_KEY
from tests.support.waiting import eventually
from tests.trainer.helpers import NOW, enqueue, job_request, minutes_ago, wait_ingested, wait_run

JOB = "fine_tune"
PII_QUERY = "My email is maria.silva@example.com, how do I reset my password?"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIFineTuneServer]:
    """A fake OpenAI that succeeds; tests change its script before the job runs."""
    server = await FakeOpenAIFineTuneServer(api_key=API_KEY).start()
    yield server
    await server.close()


def _env(fake: FakeOpenAIFineTuneServer, key: str = API_KEY) -> dict[str, str]:
    return {"OPENAI_API_KEY": key, "OPENAI_BASE_URL": fake.base_url,
            "FINE_TUNE_POLL_SECONDS": "0.02"}  # fmt: skip


async def _answer(bus: Bus, query: str, answer: str, score: int | None, minute: int) -> str:
    """Publish one answered query (and its feedback) as the proxy and gateway do."""
    rid = str(uuid.uuid4())
    event = QueryLogged(
        request_id=rid, session_id="s1", query=query, answer=answer, provider="openai",
        model="gpt-4o-mini", confidence=0.9, fallback_used=False, cached=False,
        latency_ms=10.0, logged_at=minutes_ago(minute).timestamp(),
    )  # fmt: skip
    await bus.publish(query_log_subject(rid), event)
    if score is not None:
        await bus.publish(feedback_subject(rid), FeedbackGiven(request_id=rid, score=score,
                                                               given_at=NOW))  # fmt: skip
    return rid


async def _populate(bus: Bus, db: asyncpg.Pool, *, good: int, duplicates: int = 0,
                    poor: int = 0) -> dict[str, list[str]]:  # fmt: skip
    """``good`` distinct answers scored 4/5 (the first with PII), ``duplicates`` repeats of
    the first ones, ``poor`` answers scored 3; return their request ids by kind."""
    ids: dict[str, list[str]] = {"good": [], "duplicate": [], "poor": []}
    for i in range(good):
        query = PII_QUERY if i == 0 else f"How do I configure feature {i}?"
        answer = f"Open settings, then enable feature {i}. Call +1 415 555 0123 for help."
        ids["good"].append(await _answer(bus, query, answer, 4 + i % 2, minute=i + 1))
    for i in range(duplicates):
        query = f"  how do I configure   FEATURE {i + 1}?"  # same after case/space folding
        answer = f"Open settings, then enable feature {i + 1}. Call +1 415 555 0123 for help."
        ids["duplicate"].append(await _answer(bus, query, answer, 5, minute=100 + i))
    for i in range(poor):
        ids["poor"].append(await _answer(bus, f"Poorly answered {i}", "No idea.", 3, minute=200))
    total = good + duplicates + poor
    await wait_ingested(db, queries=total, feedback=total)
    return ids


def _request(**config: str | int | float | bool) -> Any:
    return job_request(JOB, queue="training", tick=None, timeout=60.0, config=config)


async def _used(db: asyncpg.Pool, ids: list[str]) -> list[bool]:
    rows = await db.fetch(
        "SELECT used_for_training FROM query_logs WHERE request_id = ANY($1::text[])", ids
    )
    return [r["used_for_training"] for r in rows]


def _uploaded(fake: FakeOpenAIFineTuneServer, suffix: str) -> FakeFile:
    (found,) = [f for f in fake.files.values() if f.filename.endswith(suffix)]
    return found


async def test_fine_tune_succeeds_with_clean_split_files_and_marks_rows_used(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    fake: FakeOpenAIFineTuneServer,
) -> None:  # fmt: skip
    """20 usable of 22 rated answers → 16/4 JSONL without PII, model recorded, rows marked."""
    async with trainer(**_env(fake)):
        ids = await _populate(client_bus, db, good=20, duplicates=2, poor=3)
        request = _request(dataset_limit=1000, epochs=2, batch_size=4, learning_rate=0.00005,
                           validation_split=0.2, trigger_reason="daily_analysis")  # fmt: skip
        row = await wait_run(db, await enqueue(client_bus, request), timeout=30)
    assert row["status"] == "completed", row["error_message"]
    train, valid = _uploaded(fake, "-train.jsonl"), _uploaded(fake, "-validation.jsonl")
    assert (train.purpose, valid.purpose) == ("fine-tune", "fine-tune")
    chats = [c["messages"] for c in train.lines() + valid.lines()]
    assert (len(train.lines()), len(valid.lines())) == (16, 4)
    assert all([m["role"] for m in chat] == ["system", "user", "assistant"] for chat in chats)
    assert all(find_pii(m["content"]) == [] for chat in chats for m in chat)
    users = sorted(chat[1]["content"] for chat in chats)
    assert len(set(users)) == 20
    assert "Question: My email is [EMAIL], how do I reset my password?" in users
    (job,) = fake.jobs.values()
    create = next(r.body for r in fake.requests if r.path == "/v1/fine_tuning/jobs")
    assert create["hyperparameters"] == {
        "n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 0.5,
    }  # fmt: skip
    assert (create["training_file"], create["validation_file"]) == (train.id, valid.id)
    results = row["results"]
    assert results["fine_tuned_model"] == job.fine_tuned_model
    assert results["fine_tuned_model"].startswith("ft:gpt-4o-mini-2024-07-18:")
    last = [e["data"] for e in job.events if e["type"] == "metrics"][-1]
    assert results["metrics"]["train_loss"] == last["train_loss"]
    assert results["metrics"]["valid_loss"] == last["valid_loss"]
    assert results["trained_tokens"] == job.tokens > 0
    assert (results["train_examples"], results["validation_examples"]) == (16, 4)
    assert (results["duplicates_removed"], results["marked_used"]) == (2, 20)
    assert results["pii_redactions"] >= 21
    record = await db.fetchrow("SELECT * FROM fine_tune_runs WHERE run_id = $1", row["id"])
    assert record is not None
    assert (record["status"], record["fine_tuned_model"]) == ("succeeded", job.fine_tuned_model)
    assert await _used(db, ids["good"]) == [True] * 20
    assert await _used(db, ids["duplicate"] + ids["poor"]) == [False] * 5
    assert all(r.headers["Authorization"] == f"Bearer {API_KEY}" for r in fake.requests)


async def test_upstream_job_failure_fails_run_with_its_error_and_leaves_rows_unused(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    fake: FakeOpenAIFineTuneServer,
) -> None:  # fmt: skip
    """A job that fails at step 6 → run failed with the API's reason, no row marked, no retry."""
    fake.fail_at_step = 6
    fake.failure = ("invalid_training_file", "The job failed due to an invalid training file.")
    async with trainer(**_env(fake)):
        ids = await _populate(client_bus, db, good=12)
        row = await wait_run(db, await enqueue(client_bus, _request(epochs=3)), timeout=30)
        consumer = await client_bus.js.consumer_info("JOBS_TRAINING", "trainer-training")
    (job,) = fake.jobs.values()
    assert (row["status"], row["attempt"]) == ("failed", 1)
    assert row["error_message"] == (
        f"fine-tuning job {job.id} failed: The job failed due to an invalid training file. "
        "(invalid_training_file)"
    )
    assert consumer.num_redelivered == 0
    assert await _used(db, ids["good"]) == [False] * 12
    status = await db.fetchval("SELECT status FROM fine_tune_runs WHERE run_id = $1", row["id"])
    assert status == "failed"


async def test_fewer_than_ten_usable_examples_is_cancelled_without_upload_or_retry(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    fake: FakeOpenAIFineTuneServer,
) -> None:  # fmt: skip
    """9 distinct + 3 duplicate positive answers → cancelled "insufficient data", nothing sent."""
    async with trainer(**_env(fake)):
        await _populate(client_bus, db, good=9, duplicates=3, poor=4)
        row = await wait_run(db, await enqueue(client_bus, _request()))
        consumer = await client_bus.js.consumer_info("JOBS_TRAINING", "trainer-training")
        dlq = await client_bus.js.stream_info("DLQ_JOBS_TRAINING")
    assert (row["status"], row["attempt"]) == ("cancelled", 1)
    assert row["error_message"] == (
        "insufficient data: 9 usable examples (at least 10 needed; 12 answers scored >= 4 "
        "and unused, 3 duplicates, 0 invalid)"
    )
    assert fake.requests == []
    assert (consumer.num_redelivered, dlq.state.messages) == (0, 0)


async def test_cancel_request_mid_training_cancels_the_upstream_job(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    fake: FakeOpenAIFineTuneServer,
) -> None:  # fmt: skip
    """``nb jobs cancel`` while the job runs at step 6 → POST .../cancel, run cancelled."""
    fake.hold_at_step = 6
    async with trainer(**_env(fake)):
        ids = await _populate(client_bus, db, good=12)
        run_id = await enqueue(client_bus, _request())
        await eventually(lambda: any(j.step == 6 for j in fake.jobs.values()), timeout=30)
        cancels = await client_bus.js.key_value(TRAINER_CANCELS_KV)
        await cancels.put(run_id, b"operator stopped it")
        row = await wait_run(db, run_id)
    (job,) = fake.jobs.values()
    assert (row["status"], row["error_message"]) == ("cancelled", "operator stopped it")
    assert (fake.cancel_requests, job.status) == ([job.id], "cancelled")
    assert await _used(db, ids["good"]) == [False] * 12
    status = await db.fetchval("SELECT status FROM fine_tune_runs WHERE run_id = $1", row["id"])
    assert status == "cancelled"


async def test_progress_follows_reported_steps_and_never_decreases(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    fake: FakeOpenAIFineTuneServer,
) -> None:  # fmt: skip
    """Live states climb through the statuses and step/total_steps (3, 6, 8 of 8), then 100."""
    async with trainer(**_env(fake)):
        await _populate(client_bus, db, good=20)
        request = _request(epochs=2, batch_size=4)  # 16 train examples * 2 / 4 = 8 steps
        msg_id = f"{JOB}@{uuid.uuid4().hex}"
        run_id = run_id_for(request, msg_id, "")
        async with _watched(client_bus, run_id) as states:
            await enqueue(client_bus, request, msg_id=msg_id)
            row = await wait_run(db, run_id, timeout=30)
            await eventually(lambda: bool(states) and states[-1].status == "completed")
    assert row["status"] == "completed", row["error_message"]
    values = [s.progress_percentage for s in states]
    assert values == sorted(values)
    steps = {s.step: s.progress_percentage for s in states if s.step}
    assert steps["running: step 3/8, train loss 0.5"] == pytest.approx(30 + 65 * 3 / 8)
    assert steps["running: step 6/8, train loss 0.2857"] == pytest.approx(30 + 65 * 6 / 8)
    assert {"validating_files", "queued"} <= set(steps)
    assert values[-1] == 100.0


async def test_rate_limit_is_retried_in_call_and_a_rejected_key_fails_without_leaking_it(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    fake: FakeOpenAIFineTuneServer,
) -> None:  # fmt: skip
    """Two 429s on the upload are absorbed; a wrong key → failed with OpenAI's 401 text only."""
    wrong = "nbtest-wrong-0000000000000000"
    fake.fail_next(2, status=429, headers={"Retry-After": "0"})
    async with trainer(**_env(fake)):
        await _populate(client_bus, db, good=12)
        ok = await wait_run(db, await enqueue(client_bus, _request()), timeout=30)
    assert ok["status"] == "completed", ok["error_message"]
    assert [r.status for r in fake.requests[:3]] == [429, 429, 200]
    await db.execute("UPDATE query_logs SET used_for_training = false")
    async with trainer(**_env(fake, key=wrong)):
        row = await wait_run(db, await enqueue(client_bus, _request()), timeout=30)
    assert (row["status"], row["attempt"]) == ("failed", 1)
    assert row["error_message"].startswith("openai: HTTP 401: Incorrect API key provided")
    assert wrong not in row["error_message"]
    status = await db.fetchval("SELECT status FROM fine_tune_runs WHERE run_id = $1", row["id"])
    assert status == "failed"


async def test_missing_key_or_unknown_backend_cancels_and_bad_config_fails(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
) -> None:  # fmt: skip
    """No OPENAI_API_KEY or backend "vertex" → cancelled with why; epochs=0 → failed naming it."""
    async with trainer():
        no_key = await wait_run(db, await enqueue(client_bus, _request()))
        backend = await wait_run(db, await enqueue(client_bus, _request(backend="vertex")))
        bad = await wait_run(db, await enqueue(client_bus, _request(epochs=0)))
    assert (no_key["status"], no_key["error_message"]) == (
        "cancelled", "fine_tune: no training backend configured (OPENAI_API_KEY is not set)"
    )  # fmt: skip
    assert backend["status"] == "cancelled"
    assert "backend 'vertex' is not available" in backend["error_message"]
    assert bad["status"] == "failed"
    assert bad["error_message"] == "fine_tune config: Expected `int` >= 1 - at `$.epochs`"


@contextlib.asynccontextmanager
async def _watched(bus: Bus, run_id: str) -> AsyncIterator[list[JobRunState]]:
    """Collect every live state the trainer writes for ``run_id``."""
    runs = await bus.js.key_value(TRAINER_RUNS_KV)
    watcher: Any = await runs.watch(run_id)
    states: list[JobRunState] = []

    async def collect() -> None:
        while True:
            try:
                entry = await watcher.updates(timeout=5.0)
            except NatsTimeoutError:
                continue
            if entry is not None and entry.value:
                states.append(decode(entry.value, JobRunState))

    task = asyncio.create_task(collect())
    try:
        yield states
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await watcher.stop()


def test_config_json_shape_is_the_seeds() -> None:
    """Seed 000's example config parses unchanged and maps to OpenAI's hyperparameters."""
    from neuralbridge.trainer.fine_tune import parse_config

    seed = json.loads('{"dataset_limit": 1000, "learning_rate": 0.0001, "epochs": 3,'
                      ' "batch_size": 4, "validation_split": 0.2}')  # fmt: skip
    hyper = parse_config(seed).hyperparameters()
    assert (hyper.n_epochs, hyper.batch_size, hyper.learning_rate_multiplier) == (3, 4, 1.0)


def test_progress_never_goes_back_through_the_job_life() -> None:
    """validating_files < queued < running steps < succeeded's 95 %, whatever the steps."""
    from neuralbridge.trainer.fine_tune_follow import progress_of

    seen = [progress_of("validating_files", {})[0], progress_of("queued", {})[0],
            progress_of("running", {})[0]]  # fmt: skip
    seen += [progress_of("running", {"step": s, "total_steps": 7})[0] for s in range(8)]
    assert seen == sorted(seen)
    assert (seen[0], seen[-1]) == (20.0, 95.0)
    assert progress_of("running", {"step": 9, "total_steps": 7})[0] == 95.0


def test_split_is_reproducible_and_keeps_ten_examples_to_train() -> None:
    """Same input → same split; 0.2 of 25 → 5 held out; of 11 → 1 (10 must remain)."""
    from neuralbridge.trainer.fine_tune_data import LoggedAnswer, build_examples, split_examples

    def dataset(n: int) -> Any:
        rows = [LoggedAnswer(f"r{i:02d}", f"question {i}", f"answer {i}") for i in range(n)]
        return build_examples(rows).examples

    first = split_examples(dataset(25), 0.2)
    again = split_examples(tuple(reversed(dataset(25))), 0.2)
    assert first == again
    assert (len(first[0]), len(first[1])) == (20, 5)
    train, valid = split_examples(dataset(11), 0.2)
    assert (len(train), len(valid)) == (10, 1)
    assert split_examples(dataset(10), 0.5)[1] == []


def test_examples_carry_passages_redacted_and_bad_chats_are_dropped() -> None:
    """Passages go into the system message with [source N]; empty answers are invalid."""
    from neuralbridge.trainer.fine_tune_data import LoggedAnswer, build_examples

    rows = [
        LoggedAnswer(
            "a", "Who runs Acme?", "Jane [source 1].", ("Acme is run by Jane (jane@acme.example).",)
        ),
        LoggedAnswer("b", "Empty answer?", "   "),
        LoggedAnswer("c", "", "An answer to nothing."),
    ]
    built = build_examples(rows)
    assert (built.request_ids, built.invalid, built.pii_redactions) == (["a"], 2, 1)
    system, user, assistant = built.examples[0][1].messages
    assert system.content.endswith("[source 1] Acme is run by Jane ([EMAIL]).")
    assert (user.content, assistant.content) == ("Question: Who runs Acme?", "Jane [source 1].")


def test_role_order_names_what_is_wrong() -> None:
    """A chat must alternate user/assistant after an optional system turn and end answered."""
    from neuralbridge.llm import ChatMessage
    from neuralbridge.trainer.fine_tune_data import role_order_error

    def chat(*roles: str) -> list[ChatMessage]:
        return [ChatMessage(role=r, content="x") for r in roles]  # type: ignore[arg-type]

    assert role_order_error(chat("system", "user", "assistant", "user", "assistant")) is None
    assert role_order_error(chat("system", "assistant")) == (
        "turn 1 is 'assistant', expected 'user'"
    )
    assert role_order_error(chat("user", "assistant", "user")) == (
        "the last turn is not the assistant's"
    )
    assert role_order_error(chat("system")) == "no user or assistant turn"
