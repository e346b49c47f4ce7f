"""prompt_optimization end to end: executions in, examples reviewed, variants scored, proposed."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from neuralbridge.cli import learning as cli_learning
from neuralbridge.cli.trainer import jobs_cancel
from neuralbridge.core.bus import Bus
from neuralbridge.core.subjects import AGENT_EXECUTIONS_STREAM, agent_execution_subject
from neuralbridge.messages.agent_learning import AgentExecution
from neuralbridge.trainer.prompt_optimization import NO_CHAT_MODEL
from tests.support.fake_http import started_servers
from tests.support.fake_llm import FakeLLMServer
from tests.support.fake_prompt_llm import FewShotLLMServer
from tests.support.waiting import eventually
from tests.trainer.helpers import NOW, enqueue, job_request, wait_run

SYSTEM_PROMPT = "You are a geography assistant. Answer questions about capitals."
JOB = "prompt_optimization"


def _pairs(tag: str, n: int) -> list[tuple[str, str]]:
    return [(f"What is the capital of {tag} land {i}?", f"The capital of {tag} land {i} is "
             f"{tag} city {i}.") for i in range(n)]  # fmt: skip


async def _agent(
    db: asyncpg.Pool, tag: str, *, system_prompt: str | None = SYSTEM_PROMPT,
    executions: int = 50, old_executions: int = 0, approved: int = 10, others: int = 0,
) -> str:  # fmt: skip
    """An agent with executions in the window (+ older ones) and approved (+ other) examples."""
    agent_id = uuid.uuid4()
    config = {"system_prompt": system_prompt} if system_prompt is not None else {}
    await db.execute("INSERT INTO agents (id, name, model_config) VALUES ($1, $2, $3::jsonb)",
                     agent_id, tag, json.dumps(config))  # fmt: skip
    times = [NOW - timedelta(minutes=i + 1) for i in range(executions)]
    times += [NOW - timedelta(days=31, minutes=i) for i in range(old_executions)]
    await db.executemany(
        "INSERT INTO agent_executions (id, agent_id, input, output, executed_at)"
        " VALUES ($1, $2, 'q', 'a', $3)", [(uuid.uuid4(), agent_id, at) for at in times],
    )  # fmt: skip
    rows = [(tag, q, a, "approved", i) for i, (q, a) in enumerate(_pairs(tag, approved))]
    rows += [(tag, q, a, ("pending", "rejected")[i % 2], i)
             for i, (q, a) in enumerate(_pairs(f"{tag}-unreviewed", others))]  # fmt: skip
    await db.executemany(
        "INSERT INTO learning_examples (id, agent_id, input, expected_output, status, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(uuid.uuid4(), agent_id, q, a, s, NOW - timedelta(minutes=i)) for _, q, a, s, i in rows],
    )  # fmt: skip
    return str(agent_id)


@pytest.fixture
async def start_fake() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Start fake chat servers (closed after the test)."""
    async with started_servers(lambda cls, *a, **kw: cls(*a, **kw)) as start:
        yield start


def _llm_env(fake: FakeLLMServer) -> dict[str, str]:
    return {"LLM_PROVIDER": "openai", "OPENAI_BASE_URL": fake.base_url}


async def _run(bus: Bus, db: asyncpg.Pool, timeout: float = 60.0, **config: Any) -> dict[str, Any]:
    run_id = await enqueue(bus, job_request(JOB, queue="optimization", tick=None, config=config))
    return await wait_run(db, run_id, timeout=timeout)


async def test_few_shot_variant_proposed_and_recorded_not_activated(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    start_fake: Callable[..., Awaitable[Any]],
) -> None:  # fmt: skip
    """A model that needs demonstrations: few_shot wins with CI > 0 and waits for review."""
    fake = await start_fake(FewShotLLMServer, dict(_pairs("alpha", 12)))
    async with trainer(**_llm_env(fake)):
        agent_id = await _agent(db, "alpha", approved=12, others=4)
        run = await _run(client_bus, db)
    assert run["status"] == "completed", run["error_message"]
    outcome = run["results"]["agents"][0]
    assert (outcome["agent_id"], outcome["proposed_variant"]) == (agent_id, "few_shot")
    assert (outcome["baseline_score"], outcome["test_examples"], outcome["pool_examples"]) == (
        0.0, 6, 6)  # fmt: skip
    scores = {kind: v["score"] for kind, v in outcome["variants"].items()}
    assert scores == {"clarified": 0.0, "few_shot": 1.0, "restructured": 0.0, "combined": 1.0}
    assert outcome["variants"]["few_shot"]["ci"][0] > 0
    assert outcome["variants"]["clarified"]["ci"] == [0.0, 0.0]
    row = await db.fetchrow("SELECT * FROM prompt_optimization_runs WHERE agent_id = $1",
                            uuid.UUID(agent_id))  # fmt: skip
    assert row is not None
    assert (row["status"], row["proposed_variant"], row["model"]) == (
        "pending_review", "few_shot", "openai:gpt-4o-mini")  # fmt: skip
    assert row["baseline_prompt"] == SYSTEM_PROMPT
    assert "Examples of good answers" in row["proposed_prompt"]
    assert len(json.loads(row["variants"])) == 4
    config = await db.fetchval("SELECT model_config FROM agents WHERE id = $1",
                               uuid.UUID(agent_id))  # fmt: skip
    assert json.loads(config) == {"system_prompt": SYSTEM_PROMPT}  # not activated
    sent = json.dumps([r.body for r in fake.answered])
    assert "unreviewed" not in sent  # only approved examples are used
    assert len(fake.answered) == 3 + 5 * 6  # three rewrites, five prompts x six held-out


async def test_eligibility_boundaries_executions_examples_and_system_prompt(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    start_fake: Callable[..., Awaitable[Any]],
) -> None:  # fmt: skip
    """49 executions (plus an old one), 9 approved examples, no system_prompt: none eligible."""
    fake = await start_fake(FakeLLMServer, "openai")
    async with trainer(**_llm_env(fake)):
        await _agent(db, "few-runs", executions=49, old_executions=1)
        await _agent(db, "few-examples", approved=9)
        await _agent(db, "no-prompt", system_prompt=None)
        cancelled = await _run(client_bus, db)
        eligible = await _agent(db, "just-enough")
        completed = await _run(client_bus, db)
    assert cancelled["status"] == "cancelled"
    assert cancelled["error_message"].endswith(
        "3 agents, 1 with too few executions, 1 with too few approved examples, "
        "1 without system_prompt"
    )
    assert completed["status"] == "completed", completed["error_message"]
    results = completed["results"]
    assert (results["agents_considered"], results["eligible_agents"]) == (4, 1)
    assert [a["agent_id"] for a in results["agents"]] == [eligible]
    row = await db.fetchrow("SELECT status, reason FROM prompt_optimization_runs")
    assert row is not None
    assert row["status"] == "no_proposal"
    assert row["reason"].startswith("no variant's 95% CI of improvement is above 0")


async def test_without_chat_model_run_is_cancelled_not_scored(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """The offline extractive provider cannot run a system prompt: cancelled, nothing recorded."""
    async with trainer():
        await _agent(db, "alpha")
        run = await _run(client_bus, db)
    assert (run["status"], run["error_message"]) == ("cancelled", NO_CHAT_MODEL)
    assert await db.fetchval("SELECT count(*) FROM prompt_optimization_runs") == 0


async def test_invalid_config_cancels_naming_the_problem(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """A config value that cannot work ends the run cancelled with the rule it broke."""
    async with trainer():
        unknown = await _run(client_bus, db, min_exemples=3)
        bad = await _run(client_bus, db, test_fraction=1.5)
    assert unknown["status"] == bad["status"] == "cancelled"
    assert "min_exemples" in unknown["error_message"]
    assert "0 < test_fraction < 1" in bad["error_message"]


async def test_cancel_stops_run_between_variants_without_record(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    start_fake: Callable[..., Awaitable[Any]],
) -> None:  # fmt: skip
    """``nb jobs cancel`` during the evaluation ends the run cancelled; nothing is proposed."""
    fake = await start_fake(FewShotLLMServer, dict(_pairs("alpha", 12)), latency=1.0)
    async with trainer(**_llm_env(fake)):
        await _agent(db, "alpha", approved=12)
        run_id = await enqueue(client_bus, job_request(JOB, queue="optimization", tick=None))

        async def generating() -> bool:
            step = await db.fetchval("SELECT step FROM job_runs WHERE id = $1", uuid.UUID(run_id))
            return step is not None and "generating variants" in step

        await eventually(generating, timeout=30)
        assert await jobs_cancel(client_bus, run_id, reason="operator asked") == 0
        run = await wait_run(db, run_id, timeout=60)
    assert (run["status"], run["error_message"]) == ("cancelled", "operator asked")
    assert await db.fetchval("SELECT count(*) FROM prompt_optimization_runs") == 0


async def test_executions_become_pending_examples_reviewed_from_cli(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Feedback >= 4 proposes an example (also on a re-report); the CLI approves/rejects it."""
    async with trainer():
        agent_id = await _agent(db, "alpha", executions=0, approved=0)

        async def declared() -> bool:
            try:
                await client_bus.js.stream_info(AGENT_EXECUTIONS_STREAM)
            except Exception:  # not declared yet
                return False
            return True

        await eventually(declared, timeout=20)
        ids = [str(uuid.uuid4()) for _ in range(3)]
        reports = [(ids[0], agent_id, 5), (ids[1], agent_id, 2), (ids[2], agent_id, None),
                   (ids[2], agent_id, 4), (str(uuid.uuid4()), str(uuid.uuid4()), 5)]  # fmt: skip
        for n, (eid, aid, score) in enumerate(reports):
            execution = AgentExecution(id=eid, agent_id=aid, input=f"question {eid}",
                                       output=f"answer {eid}", executed_at=NOW.timestamp(),
                                       feedback_score=score)  # fmt: skip
            await client_bus.publish(agent_execution_subject(aid), execution, msg_id=f"{eid}:{n}")

        async def stored() -> bool:
            dlq = await client_bus.js.stream_info(f"DLQ_{AGENT_EXECUTIONS_STREAM}")
            examples = await db.fetchval("SELECT count(*) FROM learning_examples")
            executions = await db.fetchval("SELECT count(*) FROM agent_executions")
            return bool(dlq.state.messages == 1 and examples == 2 and executions == 3)

        await eventually(stored, timeout=20)
        rows = await db.fetch("SELECT id, execution_id, quality_score FROM learning_examples")
        by_execution = {str(r["execution_id"]): r for r in rows}
        quality = {e: r["quality_score"] for e, r in by_execution.items()}
        assert quality == {ids[0]: 1.0, ids[2]: 0.8}
        capsys.readouterr()
        assert await cli_learning.examples_list(client_bus, agent_id=agent_id, status="pending",
                                                limit=50, as_json=False) == 0  # fmt: skip
        assert len(capsys.readouterr().out.splitlines()) == 2
        approve, reject = (str(by_execution[ids[0]]["id"]), str(by_execution[ids[2]]["id"]))
        assert await cli_learning.examples_review(client_bus, [approve], "approved") == 0
        assert await cli_learning.examples_review(client_bus, [reject], "rejected") == 0
        missing = str(uuid.uuid4())
        assert await cli_learning.examples_review(client_bus, [missing], "approved") == 1
        assert f"no learning example {missing}" in capsys.readouterr().err
        assert await cli_learning.examples_list(client_bus, agent_id=None, status="approved",
                                                limit=50, as_json=True) == 0  # fmt: skip
        listed = json.loads(capsys.readouterr().out)
    assert [(e["id"], e["status"]) for e in listed] == [(approve, "approved")]
    rows = await db.fetch("SELECT id::text AS id, status FROM learning_examples")
    statuses = {r["id"]: r["status"] for r in rows}
    assert statuses == {approve: "approved", reject: "rejected"}
