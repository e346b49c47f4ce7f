"""Following an upstream fine-tuning job: status, events, progress, cancellation, deadline.

Every ``FINE_TUNE_POLL_SECONDS`` the job and its new events are read; the run's
progress is 20 % while files are validated, 25 % queued, then 30-95 % by the
last metrics event's ``step / total_steps``, and the step text says where the
job is (``running: step 6/12, train loss 0.41``). The progress report is also
where a cancel request is seen: the upstream job is cancelled before the run
ends ``cancelled``. A job still unfinished when the run's time limit is near
is cancelled upstream too, so no job keeps training (and billing) for a run
that was already given up. Read failures the client's own retries could not
absorb are tolerated for a few polls in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from neuralbridge.llm import LLMError, LLMUnavailable
from neuralbridge.llm.openai_finetune import FINAL_STATUSES, FineTuneClient, FineTuningJob, JobEvent
from neuralbridge.trainer import fine_tune_store as ft_store
from neuralbridge.trainer.errors import CancelRunError, TrainerError
from neuralbridge.trainer.runs import RunContext

__all__ = ["UpstreamDeadlineError", "follow_job", "progress_of"]

log = structlog.get_logger()

_STATUS_PROGRESS = {"validating_files": 20.0, "queued": 25.0, "running": 30.0}
_TRAINING_SPAN = (30.0, 95.0)
_MAX_READ_FAILURES = 5
_METRIC_KEYS = (
    "step", "total_steps", "train_loss", "valid_loss", "full_valid_loss",
    "train_mean_token_accuracy", "valid_mean_token_accuracy", "full_valid_mean_token_accuracy",
)  # fmt: skip


class UpstreamDeadlineError(TrainerError):
    """The upstream job would outlast the run's time limit; it was cancelled."""


def progress_of(status: str, metrics: dict[str, Any]) -> tuple[float, str]:
    """The run's progress and step text for the job's ``status`` and last ``metrics``."""
    step, total = _number(metrics.get("step")), _number(metrics.get("total_steps"))
    if status == "running" and step is not None and total is not None and total > 0:
        low, high = _TRAINING_SPAN
        share = min(max(step / total, 0.0), 1.0)
        text = f"running: step {int(step)}/{int(total)}"
        if isinstance(metrics.get("train_loss"), int | float):
            text += f", train loss {float(metrics['train_loss']):.4g}"
        return low + (high - low) * share, text
    return _STATUS_PROGRESS.get(status, 0.0), status


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _merge_metrics(metrics: dict[str, Any], events: list[JobEvent]) -> dict[str, Any]:
    """The last metrics event's numbers (events arrive oldest first)."""
    for event in events:
        if event.type == "metrics" and event.data:
            metrics = {k: event.data[k] for k in _METRIC_KEYS if k in event.data}
    return metrics


async def follow_job(
    run: RunContext, client: FineTuneClient, job: FineTuningJob, *, deadline: float
) -> tuple[FineTuningJob, dict[str, Any]]:
    """Report on ``job``, then poll it until it is final; return it with its last metrics.

    Args:
        deadline: The event-loop time after which the job is cancelled upstream.

    Raises:
        CancelRunError: the run was asked to stop (the upstream job is cancelled first).
        UpstreamDeadlineError: the run's time limit came first (the job is cancelled).
    """
    loop = asyncio.get_running_loop()
    seen: set[str] = set()
    metrics: dict[str, Any] = {}
    failures = 0
    poll = run.settings.fine_tune_poll_seconds
    while True:
        await ft_store.set_upstream(run.pool, run.run_id, job.status)
        if job.status in FINAL_STATUSES:
            return job, metrics
        percentage, step = progress_of(job.status, metrics)
        try:
            await run.progress(percentage, step)
        except CancelRunError as exc:
            await _cancel_upstream(client, job.id, reason=str(exc))
            raise
        if loop.time() + poll > deadline:
            await _cancel_upstream(client, job.id, reason="time limit")
            raise UpstreamDeadlineError(
                f"fine-tuning job {job.id} was still {job.status} near the run's time limit "
                f"({run.request.timeout_seconds:g}s); it was cancelled upstream"
            )
        await asyncio.sleep(poll)
        try:
            job = await client.get_job(job.id)
            metrics = _merge_metrics(metrics, await client.new_events(job.id, seen))
            failures = 0
        except LLMUnavailable as exc:
            failures += 1
            log.warning("fine_tune_poll_failed", upstream_job=job.id, failures=failures,
                        error=str(exc))  # fmt: skip
            if failures >= _MAX_READ_FAILURES:
                raise


async def _cancel_upstream(client: FineTuneClient, job_id: str, *, reason: str) -> None:
    """Ask the API to cancel; a failure is logged (the run ends either way)."""
    with contextlib.suppress(LLMError, LLMUnavailable):
        job = await client.cancel_job(job_id)
        log.info("fine_tune_cancelled_upstream", upstream_job=job_id, status=job.status,
                 reason=reason)  # fmt: skip
        return
    log.warning("fine_tune_cancel_upstream_failed", upstream_job=job_id, reason=reason)
