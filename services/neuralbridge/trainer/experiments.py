"""The ``ab_experiments`` table and the experiment columns of ``query_logs``.

An experiment is created ``running`` (at most one at a time: the pipeline
applies one experiment per request), analysed hourly by ``ab_test_analysis``,
and ends ``concluded`` (with a winner) or ``stopped`` (by hand, no winner).
Every change returns the new :class:`Experiment`, which the caller mirrors to
the ``ab_experiments`` KV bucket (see :mod:`neuralbridge.trainer.experiment_requests`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from neuralbridge.messages.experiments import (
    ArmStats,
    Experiment,
    ExperimentAnalysis,
    ExperimentSpec,
    Variant,
)
from neuralbridge.trainer.errors import TrainerError

__all__ = [
    "ExperimentRejectedError",
    "arm_stats",
    "create_experiment",
    "list_experiments",
    "record_analysis",
    "running_experiments",
    "spec_problem",
    "stop_experiment",
]

_PROVIDER_FIELDS = ("provider", "model", "temperature")
_PROMPT_FIELDS = ("instructions", "prompt_version")


class ExperimentRejectedError(TrainerError):
    """An experiment request that cannot be carried out; the message says why."""


def spec_problem(spec: ExperimentSpec) -> str | None:
    """Why ``spec`` is not a usable experiment, or ``None`` when it is."""
    names = [v.name for v in spec.variants]
    if len(set(names)) != len(names):
        return f"variant names must be unique, got {names}"
    own, other = (
        (_PROVIDER_FIELDS, _PROMPT_FIELDS) if spec.kind == "provider"
        else (_PROMPT_FIELDS, _PROVIDER_FIELDS)
    )  # fmt: skip
    for variant in spec.variants:
        wrong = [f for f in other if getattr(variant, f) is not None]
        if wrong:
            return f"a {spec.kind} experiment's variant {variant.name!r} cannot set {wrong}"
    changes = {tuple(getattr(v, f) for f in own) for v in spec.variants}
    if len(changes) < len(spec.variants):
        return f"the variants of a {spec.kind} experiment must differ in one of {list(own)}"
    return None


async def create_experiment(pool: asyncpg.Pool, spec: ExperimentSpec, now: datetime) -> Experiment:
    """Start an experiment.

    Raises:
        ExperimentRejectedError: the spec is unusable, or another experiment is running.
    """
    problem = spec_problem(spec)
    if problem is not None:
        raise ExperimentRejectedError(problem)
    experiment_id = uuid.uuid4().hex[:12]
    try:
        row = await pool.fetchrow(
            "INSERT INTO ab_experiments (id, name, kind, variants, started_at)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING *",
            experiment_id, spec.name, spec.kind,
            msgspec.json.encode(spec.variants).decode(), now,
        )  # fmt: skip
    except asyncpg.UniqueViolationError:
        running = await running_experiments(pool)
        ids = ", ".join(e.id for e in running) or "another"
        raise ExperimentRejectedError(
            f"experiment {ids} is running; stop it first (nb ab stop <id>)"
        ) from None
    assert row is not None
    return _experiment(row)


async def list_experiments(pool: asyncpg.Pool) -> list[Experiment]:
    """Every experiment, newest first."""
    rows = await pool.fetch("SELECT * FROM ab_experiments ORDER BY started_at DESC, id")
    return [_experiment(r) for r in rows]


async def running_experiments(pool: asyncpg.Pool) -> list[Experiment]:
    """The experiments still running, oldest first."""
    rows = await pool.fetch(
        "SELECT * FROM ab_experiments WHERE status = 'running' ORDER BY started_at, id"
    )
    return [_experiment(r) for r in rows]


async def stop_experiment(
    pool: asyncpg.Pool, experiment_id: str, reason: str, now: datetime
) -> Experiment:
    """End a running experiment without a winner.

    Raises:
        ExperimentRejectedError: no such experiment, or it is not running.
    """
    row = await pool.fetchrow(
        "UPDATE ab_experiments SET status = 'stopped', reason = $2, concluded_at = $3"
        " WHERE id = $1 AND status = 'running' RETURNING *",
        experiment_id, reason, now,
    )  # fmt: skip
    if row is None:
        status = await pool.fetchval("SELECT status FROM ab_experiments WHERE id = $1",
                                     experiment_id)  # fmt: skip
        if status is None:
            raise ExperimentRejectedError(f"no experiment {experiment_id!r}")
        raise ExperimentRejectedError(f"experiment {experiment_id!r} is already {status}")
    return _experiment(row)


async def arm_stats(pool: asyncpg.Pool, experiment: Experiment, until: datetime) -> list[ArmStats]:
    """Per variant (in the experiment's order): answers logged before ``until``.

    Only answers logged since the experiment started count; the latest feedback
    per request is its score; scores 4 and 5 are positive.
    """
    rows = await pool.fetch(
        """
        SELECT q.variant, count(DISTINCT q.session_id) AS sessions, count(*) AS assigned,
               count(f.request_id) AS rated,
               count(*) FILTER (WHERE f.score >= 4) AS positive,
               avg(f.score::float8) AS score_mean, stddev_samp(f.score::float8) AS score_sd,
               avg(q.latency_ms) AS latency_mean, stddev_samp(q.latency_ms) AS latency_sd
        FROM query_logs q LEFT JOIN feedback f ON f.request_id = q.request_id
        WHERE q.experiment_id = $1 AND q.logged_at >= $2 AND q.logged_at < $3
        GROUP BY q.variant
        """,
        experiment.id, datetime.fromisoformat(experiment.started_at), until,
    )  # fmt: skip
    by_variant = {r["variant"]: r for r in rows}
    return [_arm(v, by_variant.get(v.name)) for v in experiment.variants]


async def record_analysis(
    pool: asyncpg.Pool, analysis: ExperimentAnalysis, now: datetime
) -> Experiment:
    """Store one look: the running p-value, the reason, and the conclusion if any.

    An experiment stopped meanwhile stays stopped (only the look is recorded).
    """
    concluded = analysis.decision == "concluded"
    row = await pool.fetchrow(
        """
        UPDATE ab_experiments SET
            always_valid_p = LEAST(always_valid_p, $2), reason = $3, analysed_at = $4,
            last_analysis = $5,
            status = CASE WHEN status = 'running' AND $6 THEN 'concluded' ELSE status END,
            winner = CASE WHEN status = 'running' AND $6 THEN $7 ELSE winner END,
            concluded_at = CASE WHEN status = 'running' AND $6 THEN $4 ELSE concluded_at END
        WHERE id = $1 RETURNING *
        """,
        analysis.experiment_id, analysis.always_valid_p, analysis.reason, now,
        msgspec.json.encode(analysis).decode(), concluded, analysis.winner,
    )  # fmt: skip
    if row is None:
        raise ExperimentRejectedError(f"experiment {analysis.experiment_id!r} disappeared")
    return _experiment(row)


def _arm(variant: Variant, row: Any) -> ArmStats:
    if row is None:
        return ArmStats(variant=variant.name, sessions=0, assigned=0, rated=0, positive=0,
                        positive_rate=0.0, score_mean=0.0, score_sd=0.0, latency_ms_mean=0.0,
                        latency_ms_sd=0.0)  # fmt: skip
    rated, positive = int(row["rated"]), int(row["positive"])
    return ArmStats(
        variant=variant.name, sessions=int(row["sessions"]), assigned=int(row["assigned"]),
        rated=rated, positive=positive,
        positive_rate=positive / rated if rated else 0.0,
        score_mean=float(row["score_mean"] or 0.0), score_sd=float(row["score_sd"] or 0.0),
        latency_ms_mean=float(row["latency_mean"] or 0.0),
        latency_ms_sd=float(row["latency_sd"] or 0.0),
    )  # fmt: skip


def _experiment(row: Any) -> Experiment:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return Experiment(
        id=row["id"], name=row["name"], kind=row["kind"],
        variants=msgspec.json.decode(row["variants"], type=list[Variant]),
        status=row["status"], winner=row["winner"], reason=row["reason"],
        always_valid_p=float(row["always_valid_p"]), started_at=row["started_at"].isoformat(),
        concluded_at=iso(row["concluded_at"]), analysed_at=iso(row["analysed_at"]),
    )  # fmt: skip
