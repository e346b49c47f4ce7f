"""The learning loop's messages: user feedback, and the trainer's job-run state.

* :class:`FeedbackGiven` — a user's score for one answer, published to
  ``feedback.<request_id>`` (stream ``FEEDBACK``). The gateway publishes it; the
  trainer ingests it next to the ``QUERY_LOGS`` events, keyed by ``request_id``
  (a later feedback for the same request replaces an earlier one).
* :class:`JobRunState` — one job run's live state, kept under the run id in KV
  ``trainer_runs`` (``nb jobs watch``, the gateway).
* :class:`JobOutcome` — the last outcome of a job, kept under the job name in
  KV ``job_results`` (``nb scheduler status`` reads its ``status``).
* :class:`JobStatsReply` — the answer to ``trainer.query.stats`` (seed 000's
  ``get_job_stats``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from neuralbridge.core.schemas import Message

__all__ = [
    "RUN_STATUSES",
    "TERMINAL_STATUSES",
    "FailedRun",
    "FeedbackGiven",
    "JobOutcome",
    "JobRunState",
    "JobStatsReply",
    "QueuePerformance",
    "RunStatus",
]

RunStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
RUN_STATUSES: tuple[RunStatus, ...] = ("pending", "running", "completed", "failed", "cancelled")
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


class FeedbackGiven(Message, frozen=True, kw_only=True):
    """A user's score (1-5) for the answer to ``request_id``.

    Attributes:
        request_id: The request the answer belongs to (as in ``QueryLogged``).
        score: 1 (useless) to 5 (excellent); 4 and 5 count as positive feedback.
        comment: Free text, already redacted by the gateway.
        given_at: When the user gave it (timezone-aware).
    """

    request_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    score: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: Annotated[str, msgspec.Meta(max_length=4000)] | None = None
    given_at: Annotated[datetime, msgspec.Meta(tz=True)]


class JobRunState(Message, frozen=True, kw_only=True):
    """A job run's live state (KV ``trainer_runs``, key = ``run_id``)."""

    run_id: str
    job: str
    queue: str
    trigger: str
    tick: str | None = None
    status: RunStatus
    progress_percentage: float = 0.0
    step: str | None = None
    attempt: int = 0
    error_message: str | None = None
    updated_at: str


class JobOutcome(Message, frozen=True, kw_only=True):
    """The last outcome of a job (KV ``job_results``, key = job name)."""

    job: str
    run_id: str
    status: RunStatus
    finished_at: str
    error_message: str | None = None


class QueuePerformance(msgspec.Struct, frozen=True, kw_only=True):
    """Finished runs of one queue: average duration and success rate."""

    finished: int
    avg_duration_ms: float
    success_rate: float


class FailedRun(msgspec.Struct, frozen=True, kw_only=True):
    """A failed run, with what went wrong (re-run it with ``nb jobs run <job>``)."""

    run_id: str
    job: str
    queue: str
    error_message: str | None
    finished_at: str | None


class JobStatsReply(Message, frozen=True, kw_only=True):
    """Seed 000's ``get_job_stats``: runs by status, queue performance, failures, training."""

    jobs_by_status: dict[str, int]
    queue_performance: dict[str, QueuePerformance]
    recent_failures: list[FailedRun]
    active_training_jobs: list[JobRunState]
