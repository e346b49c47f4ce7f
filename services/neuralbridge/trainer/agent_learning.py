"""Agent executions in, learning examples reviewed: the input of ``prompt_optimization``.

* :func:`execution_runner` — the shared :class:`JobRunner` on ``AGENT_EXECUTIONS``
  (:data:`~neuralbridge.trainer.topology.AGENT_EXECUTIONS_WORK`): each
  :class:`AgentExecution` is stored by its id (a repeated report updates the
  feedback); one with feedback >= 4 proposes a ``pending`` learning example
  (``quality_score`` = score / 5). An execution of an unknown agent can never
  be stored: it goes to the DLQ at once, naming the agent.
* :func:`serve_learning_examples` — ``trainer.query.learning_examples`` (list)
  and ``trainer.command.review_example`` (approve / reject), the requests of
  ``nb learning examples``, served by the shared responder: an unknown example
  or a database failure is answered with ``error``; a request that does not
  decode, with an ``ErrorReply``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from neuralbridge.core.bus import Bus, BusSubscription
from neuralbridge.core.errors import PermanentError
from neuralbridge.core.responder import serve
from neuralbridge.core.runner import JobContext, JobRunner
from neuralbridge.core.subjects import (
    TRAINER_LEARNING_EXAMPLES_SUBJECT,
    TRAINER_REVIEW_EXAMPLE_SUBJECT,
)
from neuralbridge.messages.agent_learning import (
    AgentExecution,
    LearningExample,
    LearningExampleList,
    LearningExampleQuery,
    LearningExampleReply,
    LearningExampleReview,
)
from neuralbridge.trainer.topology import AGENT_EXECUTIONS_WORK

__all__ = [
    "POSITIVE_FEEDBACK",
    "execution_runner",
    "list_examples",
    "review_example",
    "serve_learning_examples",
    "store_execution",
]

log = structlog.get_logger()

POSITIVE_FEEDBACK = 4
_EXAMPLES_NS = uuid.UUID("0c5e1b7a-3f7d-5b8e-9a41-6c6561726e21")


async def store_execution(pool: asyncpg.Pool, execution: AgentExecution) -> bool:
    """Store (or update the feedback of) one execution; return whether it proposed an example.

    Raises:
        PermanentError: the agent does not exist.
    """
    at = datetime.fromtimestamp(execution.executed_at, UTC)
    execution_id = uuid.UUID(execution.id)
    async with pool.acquire() as conn, conn.transaction():
        try:
            row = await conn.fetchrow(
                """
                INSERT INTO agent_executions (id, agent_id, input, output, executed_at,
                                              feedback_score)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (id) DO UPDATE SET feedback_score =
                    COALESCE(EXCLUDED.feedback_score, agent_executions.feedback_score)
                RETURNING agent_id, input, output, feedback_score
                """,
                execution_id, uuid.UUID(execution.agent_id), execution.input, execution.output,
                at, execution.feedback_score,
            )  # fmt: skip
        except asyncpg.ForeignKeyViolationError:
            raise PermanentError(f"unknown agent {execution.agent_id}") from None
        assert row is not None  # INSERT ... ON CONFLICT DO UPDATE always returns the row
        score = row["feedback_score"]
        if score is None or score < POSITIVE_FEEDBACK:
            return False
        status = await conn.execute(
            """
            INSERT INTO learning_examples (id, agent_id, execution_id, input, expected_output,
                                           quality_score)
            VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (execution_id) DO NOTHING
            """,
            uuid.uuid5(_EXAMPLES_NS, execution.id), row["agent_id"], execution_id,
            row["input"], row["output"], score / 5.0,
        )  # fmt: skip
    return bool(status.endswith(" 1"))


def execution_runner(bus: Bus, pool: asyncpg.Pool, *, grace: float = 30.0) -> JobRunner[Any]:
    """The runner storing ``AGENT_EXECUTIONS`` into ``agent_executions``."""

    async def handle(execution: AgentExecution, _: JobContext) -> None:
        proposed = await store_execution(pool, execution)
        log.info("agent_execution_stored", agent_id=execution.agent_id,
                 execution_id=execution.id, example_proposed=proposed)  # fmt: skip

    return JobRunner(bus, AGENT_EXECUTIONS_WORK, AgentExecution, handle, concurrency=4,
                     grace=grace)  # fmt: skip


def _example(row: asyncpg.Record) -> LearningExample:
    reviewed = row["reviewed_at"]
    quality = row["quality_score"]
    return LearningExample(
        id=str(row["id"]), agent_id=str(row["agent_id"]), input=row["input"],
        expected_output=row["expected_output"], status=row["status"],
        quality_score=None if quality is None else float(quality),
        created_at=row["created_at"].isoformat(),
        reviewed_at=None if reviewed is None else reviewed.isoformat(),
    )  # fmt: skip


async def list_examples(pool: asyncpg.Pool, query: LearningExampleQuery) -> list[LearningExample]:
    """Examples, newest first, filtered by agent and/or status."""
    rows = await pool.fetch(
        """
        SELECT * FROM learning_examples
        WHERE ($1::uuid IS NULL OR agent_id = $1) AND ($2::text IS NULL OR status = $2)
        ORDER BY created_at DESC, id LIMIT $3
        """,
        None if query.agent_id is None else uuid.UUID(query.agent_id), query.status, query.limit,
    )  # fmt: skip
    return [_example(r) for r in rows]


async def review_example(pool: asyncpg.Pool, review: LearningExampleReview) -> LearningExampleReply:
    """Approve or reject one example (again: the latest decision wins)."""
    row = await pool.fetchrow(
        "UPDATE learning_examples SET status = $2, reviewed_at = now() WHERE id = $1 RETURNING *",
        uuid.UUID(review.id), review.decision,
    )  # fmt: skip
    if row is None:
        return LearningExampleReply(error=f"no learning example {review.id}")
    log.info("learning_example_reviewed", example_id=review.id, decision=review.decision)
    return LearningExampleReply(example=_example(row))


async def serve_learning_examples(bus: Bus, pool: asyncpg.Pool) -> list[BusSubscription]:
    """Answer ``nb learning examples`` (a queue group: one replica answers each)."""

    async def on_list(query: LearningExampleQuery) -> LearningExampleList:
        try:
            return LearningExampleList(examples=await list_examples(pool, query))
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("learning_examples_failed", error_class=type(exc).__name__)
            return LearningExampleList(
                error=f"the trainer could not read them: {type(exc).__name__}"
            )

    async def on_review(review: LearningExampleReview) -> LearningExampleReply:
        try:
            return await review_example(pool, review)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("learning_example_review_failed", error_class=type(exc).__name__)
            return LearningExampleReply(
                error=f"the trainer could not store it: {type(exc).__name__}"
            )

    return [
        await serve(bus, TRAINER_LEARNING_EXAMPLES_SUBJECT, LearningExampleQuery, on_list,
                    queue="trainer"),
        await serve(bus, TRAINER_REVIEW_EXAMPLE_SUBJECT, LearningExampleReview, on_review,
                    queue="trainer"),
    ]  # fmt: skip
