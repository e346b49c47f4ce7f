"""The SQL of ``prompt_optimization``: eligible agents, approved examples, reviewed runs."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from neuralbridge.learning.prompts import Example

__all__ = ["AgentCandidate", "OptimizationRecord", "agent_candidates", "approved_examples",
           "record_run"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class AgentCandidate:
    """An agent, its system prompt (``None``: none set) and what it has to learn from."""

    id: str
    name: str
    system_prompt: str | None
    executions: int
    approved_examples: int


@dataclass(frozen=True, slots=True)
class OptimizationRecord:
    """One agent's evaluated variants in one run, for review."""

    run_id: str
    agent_id: str
    baseline_prompt: str
    baseline_score: float
    variants: list[dict[str, Any]]
    proposed_variant: str | None
    proposed_prompt: str | None
    reason: str
    pool_examples: int
    test_examples: int
    model: str
    config: dict[str, Any]


async def agent_candidates(
    pool: asyncpg.Pool, since: datetime, until: datetime, agent_id: str | None = None
) -> list[AgentCandidate]:
    """Every agent (or the one asked for) with its executions in ``[since, until]``."""
    rows = await pool.fetch(
        """
        SELECT a.id, a.name, NULLIF(btrim(a.model_config->>'system_prompt'), '') AS system_prompt,
               (SELECT count(*) FROM agent_executions e WHERE e.agent_id = a.id
                  AND e.executed_at >= $1 AND e.executed_at <= $2) AS executions,
               (SELECT count(*) FROM learning_examples l WHERE l.agent_id = a.id
                  AND l.status = 'approved') AS approved
        FROM agents a WHERE ($3::uuid IS NULL OR a.id = $3) ORDER BY a.created_at, a.id
        """,
        since, until, None if agent_id is None else uuid.UUID(agent_id),
    )  # fmt: skip
    return [
        AgentCandidate(id=str(r["id"]), name=r["name"], system_prompt=r["system_prompt"],
                       executions=int(r["executions"]), approved_examples=int(r["approved"]))
        for r in rows
    ]  # fmt: skip


async def approved_examples(pool: asyncpg.Pool, agent_id: str, limit: int) -> list[Example]:
    """The agent's newest approved examples (ties broken by id, so the set is stable)."""
    rows = await pool.fetch(
        """
        SELECT id, input, expected_output FROM learning_examples
        WHERE agent_id = $1 AND status = 'approved'
        ORDER BY created_at DESC, id LIMIT $2
        """,
        uuid.UUID(agent_id), limit,
    )  # fmt: skip
    return [
        Example(id=str(r["id"]), input=r["input"], expected_output=r["expected_output"])
        for r in rows
    ]


async def record_run(pool: asyncpg.Pool, record: OptimizationRecord) -> None:
    """Store (or, for a retried run, replace) one agent's evaluation."""
    status = "pending_review" if record.proposed_variant else "no_proposal"
    await pool.execute(
        """
        INSERT INTO prompt_optimization_runs (run_id, agent_id, baseline_prompt, baseline_score,
            variants, proposed_variant, proposed_prompt, reason, status, pool_examples,
            test_examples, model, config)
        VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13::jsonb)
        ON CONFLICT (run_id, agent_id) DO UPDATE SET baseline_prompt = EXCLUDED.baseline_prompt,
            baseline_score = EXCLUDED.baseline_score, variants = EXCLUDED.variants,
            proposed_variant = EXCLUDED.proposed_variant,
            proposed_prompt = EXCLUDED.proposed_prompt, reason = EXCLUDED.reason,
            status = EXCLUDED.status, pool_examples = EXCLUDED.pool_examples,
            test_examples = EXCLUDED.test_examples, model = EXCLUDED.model,
            config = EXCLUDED.config, created_at = now()
        """,
        uuid.UUID(record.run_id), uuid.UUID(record.agent_id), record.baseline_prompt,
        record.baseline_score, json.dumps(record.variants), record.proposed_variant,
        record.proposed_prompt, record.reason, status, record.pool_examples,
        record.test_examples, record.model, json.dumps(record.config),
    )  # fmt: skip
