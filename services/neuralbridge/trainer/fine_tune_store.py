"""The SQL of the fine_tune job: its candidate rows and its ``fine_tune_runs`` record.

A run reserves the query logs it trains on by listing their ids in its
``fine_tune_runs`` row; while the run is active no other run selects them.
They are marked ``used_for_training`` only when the upstream job succeeds, in
the same transaction that records the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from neuralbridge.trainer.fine_tune_data import LoggedAnswer

__all__ = [
    "FineTuneRecord",
    "create_record",
    "find_record",
    "finish_failed",
    "finish_succeeded",
    "select_candidates",
    "set_upstream",
]

POSITIVE_SCORE = 4
_FINAL = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class FineTuneRecord:
    """What a run recorded about its upstream job (enough to resume following it)."""

    status: str
    request_ids: list[str]
    upstream_job_id: str | None
    train_examples: int
    validation_examples: int


async def select_candidates(pool: asyncpg.Pool, run_id: str, limit: int) -> list[LoggedAnswer]:
    """Answers scored >= 4, unused, not reserved by another live run; newest first.

    A reservation holds while its ``fine_tune_runs`` row is not final and its
    job run is still pending or running (a run that timed out or crashed for
    good releases its examples). ``query_logs`` keeps no passage text, so each
    answer comes without its RAG context.
    """
    rows = await pool.fetch(
        """
        SELECT q.request_id, q.query, q.answer
        FROM query_logs q JOIN feedback f ON f.request_id = q.request_id
        WHERE f.score >= $1 AND NOT q.used_for_training
          AND NOT EXISTS (
              SELECT 1 FROM fine_tune_runs r JOIN job_runs j ON j.id = r.run_id
              WHERE r.run_id <> $4 AND r.status <> ALL($3::text[])
                AND j.status IN ('pending', 'running') AND q.request_id = ANY(r.request_ids))
        ORDER BY q.logged_at DESC, q.request_id
        LIMIT $2
        """,
        POSITIVE_SCORE, limit, list(_FINAL), run_id,
    )  # fmt: skip
    return [LoggedAnswer(r["request_id"], r["query"], r["answer"]) for r in rows]


async def find_record(pool: asyncpg.Pool, run_id: str) -> FineTuneRecord | None:
    """The run's record, if an earlier attempt made one."""
    row = await pool.fetchrow(
        "SELECT status, request_ids, upstream_job_id, train_examples, validation_examples"
        " FROM fine_tune_runs WHERE run_id = $1",
        run_id,
    )
    if row is None:
        return None
    return FineTuneRecord(
        status=row["status"], request_ids=list(row["request_ids"]),
        upstream_job_id=row["upstream_job_id"], train_examples=row["train_examples"],
        validation_examples=row["validation_examples"],
    )  # fmt: skip


async def create_record(
    pool: asyncpg.Pool,
    run_id: str,
    *,
    backend: str,
    base_model: str,
    request_ids: list[str],
    train_examples: int,
    validation_examples: int,
    hyperparameters: dict[str, Any],
) -> None:
    """Reserve the examples (status ``uploading``); a retried attempt starts the row over."""
    await pool.execute(
        """
        INSERT INTO fine_tune_runs (run_id, backend, base_model, status, request_ids,
            train_examples, validation_examples, hyperparameters)
        VALUES ($1, $2, $3, 'uploading', $4, $5, $6, $7)
        ON CONFLICT (run_id) DO UPDATE SET
            backend = EXCLUDED.backend, base_model = EXCLUDED.base_model, status = 'uploading',
            request_ids = EXCLUDED.request_ids, train_examples = EXCLUDED.train_examples,
            validation_examples = EXCLUDED.validation_examples,
            hyperparameters = EXCLUDED.hyperparameters, upstream_job_id = NULL,
            error_message = NULL, finished_at = NULL, updated_at = now()
        """,
        run_id, backend, base_model, request_ids, train_examples, validation_examples,
        json.dumps(hyperparameters),
    )  # fmt: skip


async def set_upstream(
    pool: asyncpg.Pool,
    run_id: str,
    status: str,
    *,
    job_id: str | None = None,
    training_file: str | None = None,
    validation_file: str | None = None,
) -> None:
    """Record the upstream job's status (and, once known, its id and files)."""
    await pool.execute(
        """
        UPDATE fine_tune_runs SET status = $2, updated_at = now(),
            upstream_job_id = coalesce($3, upstream_job_id),
            training_file_id = coalesce($4, training_file_id),
            validation_file_id = coalesce($5, validation_file_id)
        WHERE run_id = $1
        """,
        run_id, status, job_id, training_file, validation_file,
    )  # fmt: skip


async def finish_failed(pool: asyncpg.Pool, run_id: str, status: str, error: str) -> None:
    """The upstream job failed or was cancelled: release the examples, keep the reason."""
    await pool.execute(
        "UPDATE fine_tune_runs SET status = $2, error_message = $3, finished_at = now(),"
        " updated_at = now() WHERE run_id = $1",
        run_id, status, error,
    )  # fmt: skip


async def finish_succeeded(
    pool: asyncpg.Pool,
    run_id: str,
    *,
    fine_tuned_model: str,
    trained_tokens: int | None,
    metrics: dict[str, Any],
) -> int:
    """Record the model and mark the run's examples used, in one transaction.

    Returns:
        How many query logs were marked ``used_for_training`` now.
    """
    async with pool.acquire() as conn, conn.transaction():
        request_ids = await conn.fetchval(
            """
            UPDATE fine_tune_runs SET status = 'succeeded', fine_tuned_model = $2,
                trained_tokens = $3, metrics = $4, error_message = NULL, finished_at = now(),
                updated_at = now()
            WHERE run_id = $1 RETURNING request_ids
            """,
            run_id, fine_tuned_model, trained_tokens, json.dumps(metrics),
        )  # fmt: skip
        status = await conn.execute(
            "UPDATE query_logs SET used_for_training = true"
            " WHERE request_id = ANY($1::text[]) AND NOT used_for_training",
            list(request_ids or []),
        )
    return int(status.rsplit(" ", 1)[-1])
