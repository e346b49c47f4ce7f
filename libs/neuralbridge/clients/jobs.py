"""Jobs over the bus: what ``nb jobs …``, ``nb learning report`` and the gateway ask the trainer.

Statistics, failed runs, retries and learning reports are requests the trainer
answers (``trainer.query.stats|failed|report``, ``trainer.command.retry``); a
run's live state is its key in KV ``trainer_runs``; a cancellation is a key in
KV ``trainer_cancels`` (the run stops at its next progress step).
"""

from __future__ import annotations

from typing import TypeVar

from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue

from neuralbridge.clients._requests import ServiceUnavailableError, StateUnavailableError, ask
from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import Message, decode
from neuralbridge.core.subjects import (
    TRAINER_CANCELS_KV,
    TRAINER_COMMAND_SUBJECT,
    TRAINER_QUERY_SUBJECT,
    TRAINER_RUNS_KV,
)
from neuralbridge.messages.learning import LearningReportQuery, LearningReportReply
from neuralbridge.messages.trainer_queries import JobStatsQuery
from neuralbridge.messages.training import (
    FailedRunsQuery,
    FailedRunsReply,
    JobRunState,
    JobStatsReply,
    RetryReply,
    RetryRun,
)

__all__ = [
    "TrainerUnavailableError",
    "ask_trainer",
    "failed_runs",
    "job_stats",
    "learning_report",
    "request_cancel",
    "retry_run",
    "run_state",
]

R = TypeVar("R", bound=Message)


class TrainerUnavailableError(ServiceUnavailableError):
    """No trainer answered a request (``timed_out``: one was there but did not answer in time)."""


async def ask_trainer(
    bus: Bus, subject: str, request: Message, reply_type: type[R], *, timeout: float = 10.0
) -> R:
    """Send ``request`` to the trainer and decode its reply.

    Raises:
        TrainerUnavailableError: no trainer is subscribed, or none answered in ``timeout``.
        RemoteError: the trainer answered with an error reply.
    """
    try:
        return await ask(bus, subject, request, reply_type, timeout=timeout, service="trainer")
    except ServiceUnavailableError as exc:
        raise TrainerUnavailableError(str(exc), timed_out=exc.timed_out) from None


async def job_stats(bus: Bus, *, timeout: float = 10.0) -> JobStatsReply:
    """Runs by status, per-queue performance, recent failures, active training, health."""
    subject = f"{TRAINER_QUERY_SUBJECT}.stats"
    return await ask_trainer(bus, subject, JobStatsQuery(), JobStatsReply, timeout=timeout)


async def failed_runs(bus: Bus, limit: int, *, timeout: float = 10.0) -> FailedRunsReply:
    """The latest failed runs with their error, newest first."""
    subject = f"{TRAINER_QUERY_SUBJECT}.failed"
    query = FailedRunsQuery(limit=limit)
    return await ask_trainer(bus, subject, query, FailedRunsReply, timeout=timeout)


async def retry_run(bus: Bus, run_id: str, *, timeout: float = 10.0) -> RetryReply:
    """Ask the trainer to run a failed or cancelled run again (``code`` set when refused)."""
    subject = f"{TRAINER_COMMAND_SUBJECT}.retry"
    return await ask_trainer(bus, subject, RetryRun(run_id=run_id), RetryReply, timeout=timeout)


async def learning_report(
    bus: Bus, week: str | None, *, timeout: float = 10.0
) -> LearningReportReply:
    """The stored weekly learning report (``week`` ``YYYY-Www``, or the latest)."""
    subject = f"{TRAINER_QUERY_SUBJECT}.report"
    query = LearningReportQuery(week=week)
    return await ask_trainer(bus, subject, query, LearningReportReply, timeout=timeout)


async def _bucket(bus: Bus, name: str) -> KeyValue:
    try:
        return await bus.js.key_value(name)
    except BucketNotFoundError:
        raise StateUnavailableError(f"the trainer has not started yet (no {name} bucket)") from None


async def run_state(bus: Bus, run_id: str) -> JobRunState | None:
    """A run's live state from KV ``trainer_runs``; ``None`` for an unknown run.

    Raises:
        StateUnavailableError: the trainer has not started yet (no bucket).
    """
    runs = await _bucket(bus, TRAINER_RUNS_KV)
    try:
        entry = await runs.get(run_id)
    except KeyNotFoundError:
        return None
    return decode(entry.value, JobRunState) if entry.value else None


async def request_cancel(bus: Bus, run_id: str, reason: str) -> None:
    """Ask a run to stop at its next progress step (KV ``trainer_cancels``).

    Raises:
        StateUnavailableError: the trainer has not started yet (no bucket).
    """
    cancels = await _bucket(bus, TRAINER_CANCELS_KV)
    await cancels.put(run_id, reason.encode())
