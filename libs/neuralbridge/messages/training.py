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
* :class:`FailedRunsQuery` / :class:`FailedRunsReply` — ``trainer.query.failed``:
  the latest failed runs with their error (seed 001's failed job registry).
* :class:`RetryRun` / :class:`RetryReply` — ``trainer.command.retry``: re-enqueue a
  failed or cancelled run as a new manual run (seed 001's ``job.retry()``).

Every state change of a run is also published as a :class:`JobRunState` on
``trainer.events.<run id>.status`` or ``.progress`` (stream ``TRAINER_EVENTS``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from neuralbridge.core.schemas import Message

__all__ = [
    "RUN_STATUSES",
    "TERMINAL_STATUSES",
    "AnswerMemoryPointer",
    "FailedRun",
    "FailedRunsQuery",
    "FailedRunsReply",
    "FeedbackGiven",
    "JobHealth",
    "JobOutcome",
    "JobRunState",
    "JobStatsReply",
    "QueuePerformance",
    "RagAdapterPointer",
    "RetryRefusal",
    "RetryReply",
    "RetryRun",
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
    """A failed run, with what went wrong (re-run it with ``nb jobs retry <run id>``).

    Attributes:
        attempt: Deliveries the run took before it failed.
        retried_as: The run id of its retry, once someone retried it.
    """

    run_id: str
    job: str
    queue: str
    error_message: str | None
    finished_at: str | None
    attempt: int = 0
    retried_as: str | None = None


class JobHealth(msgspec.Struct, frozen=True, kw_only=True):
    """Seed 000's ``check_job_health``: the first alert that applies, and every one."""

    status: Literal["ok", "alert"] = "ok"
    message: str = "All job queues healthy"
    alerts: list[str] = msgspec.field(default_factory=list)
    embedding_queue_depth: int = 0
    training_failure_rate: float | None = None
    cache_cleanup_last_completed: str | None = None


class JobStatsReply(Message, frozen=True, kw_only=True):
    """Seed 000's ``get_job_stats``: runs by status, queue performance, failures, training;
    and its ``check_job_health`` result."""

    jobs_by_status: dict[str, int]
    queue_performance: dict[str, QueuePerformance]
    recent_failures: list[FailedRun]
    active_training_jobs: list[JobRunState]
    health: JobHealth = msgspec.field(default_factory=JobHealth)


class FailedRunsQuery(Message, frozen=True, kw_only=True):
    """``trainer.query.failed``: the ``limit`` most recently failed runs."""

    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 20


class FailedRunsReply(Message, frozen=True, kw_only=True):
    """Failed runs, the most recent first (none, and ``error``, when the query was invalid)."""

    runs: list[FailedRun]
    error: str | None = None


class RetryRun(Message, frozen=True, kw_only=True):
    """``trainer.command.retry``: run the job of ``run_id`` again, as a new manual run."""

    run_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


RetryRefusal = Literal[
    "invalid_request", "unknown_run", "not_retryable", "already_retried", "enqueue_failed"
]


class RetryReply(Message, frozen=True, kw_only=True):
    """The retry's new run, or why there is none.

    Attributes:
        new_run_id: The new run (``None`` when refused).
        code: Why it was refused: ``invalid_request``, ``unknown_run``,
            ``not_retryable`` (still pending or running, or completed),
            ``already_retried`` (retry ``new_run_id`` instead if it failed too) or
            ``enqueue_failed``.
        error: The refusal in words, naming the run.
    """

    run_id: str
    new_run_id: str | None = None
    job: str | None = None
    queue: str | None = None
    code: RetryRefusal | None = None
    error: str | None = None


class RagAdapterPointer(Message, frozen=True, kw_only=True):
    """KV ``rag_adapters`` (key: the collection): the query adapter the proxy applies.

    Written by the trainer's ``rag_training`` job when a version is activated or
    rolled back to; the key is deleted when no adapter should be applied.

    Attributes:
        collection: The Qdrant collection whose queries it adapts.
        version: The adapter's version (per collection, from 1).
        object_name: Its weights in object store ``rag_adapters`` (``.npy``).
        dimensions: The embedding size it expects.
        sha256: Hex digest of the object's bytes (checked on load).
        activated_at: When it became the active version (ISO 8601).
    """

    collection: str
    version: Annotated[int, msgspec.Meta(ge=1)]
    object_name: str
    dimensions: Annotated[int, msgspec.Meta(ge=1)]
    sha256: str
    activated_at: str


class AnswerMemoryPointer(Message, frozen=True, kw_only=True):
    """KV ``answer_memory`` (key ``active``): the answer memory the proxy consults before API B.

    Written by the trainer's ``distillation`` job when a memory is promoted; the
    key is deleted when no memory should be consulted.

    Attributes:
        version: The memory's version (the ``distillation_runs`` row, from 1).
        run_id: The run that built and evaluated it.
        object_name: Its :class:`~neuralbridge.learning.memory.MemoryArtifact` in
            object store ``answer_memory`` (JSON).
        sha256: Hex digest of the object's bytes (checked on load).
        entries: How many answers it holds.
        similarity: ``lexical`` or ``embedding``.
        embedder: The query embedder's ``cache_identity`` (``embedding`` only).
        activated_at: When it became the active version (ISO 8601).
    """

    version: Annotated[int, msgspec.Meta(ge=1)]
    run_id: str
    object_name: str
    sha256: str
    entries: Annotated[int, msgspec.Meta(ge=0)]
    similarity: Literal["lexical", "embedding"]
    embedder: str | None = None
    activated_at: str
