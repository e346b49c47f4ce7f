"""Job monitoring over HTTP: what ``nb jobs stats|failed|watch|retry|cancel`` do.

The gateway holds no job logic and reads no trainer table: statistics and
failed runs are requests the trainer answers (``trainer.query.stats``,
``trainer.query.failed``), a retry is ``trainer.command.retry``, a run's live
state is its key in KV ``trainer_runs``, and a cancellation is a key in KV
``trainer_cancels`` (the run stops at its next progress step).

* ``GET /api/jobs/stats`` — job statistics (:class:`JobStatsReply`).
* ``GET /api/jobs/failed?limit=20`` — failed runs with their error, newest first.
* ``GET /api/jobs/{run_id}`` — the run's live state (:class:`JobRunState`).
* ``POST /api/jobs/{run_id}/retry`` — 202 with the new run's id.
* ``POST /api/jobs/{run_id}/cancel?reason=...`` — 202; the run ends ``cancelled``.

A run id that cannot be one (letters, digits, ``_`` and ``-``, at most 64) is
400 naming ``run_id`` before anything is asked of NATS; an unknown run id is
404 naming it; a run that cannot be retried or cancelled in its current status
is 409 saying why; no trainer subscribed is 503, a trainer that does not
answer in time 504.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, TypeVar

import msgspec
from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.params import Parameter

from neuralbridge.clients import RemoteError, StateUnavailableError, TrainerUnavailableError
from neuralbridge.clients import jobs as client
from neuralbridge.core.bus import Bus
from neuralbridge.gateway.access import require_admin
from neuralbridge.gateway.errors import (
    GatewayError,
    InvalidRequestError,
    UnknownRequestError,
    UpstreamFailedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from neuralbridge.messages.training import TERMINAL_STATUSES, FailedRun, JobRunState, JobStatsReply

__all__ = ["CancelAccepted", "JobConflictError", "RetryAccepted", "jobs_router"]

R = TypeVar("R")

_RUN_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
#: A run id in a path: one that cannot be a run id is a 400 naming ``run_id``, before NATS.
RunId = Annotated[
    str, Parameter(pattern=_RUN_ID_PATTERN, description="a job run id", max_length=64)
]
#: How long the gateway waits for the trainer's answer (seconds).
TRAINER_TIMEOUT = 10.0


class JobConflictError(GatewayError):
    """The run's status does not allow the action (retry a running run, cancel a finished one)."""

    status_code = 409
    error_type = "conflict_error"


class RetryAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """The retry's new run (follow it at ``GET /api/jobs/{new_run_id}``)."""

    run_id: str
    new_run_id: str
    job: str
    queue: str


class CancelAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """Cancellation asked for; the run stops at its next progress step."""

    run_id: str
    status: str
    reason: str


async def _ask(call: Awaitable[R]) -> R:
    try:
        return await call
    except TrainerUnavailableError as exc:
        if exc.timed_out:
            raise UpstreamTimeoutError(str(exc), code="trainer_timeout") from None
        raise UpstreamUnavailableError(str(exc), code="trainer_unavailable") from None
    except RemoteError as exc:
        if exc.code == "invalid_request":
            raise InvalidRequestError(str(exc)) from None
        raise UpstreamFailedError(str(exc), code=exc.code) from None
    except StateUnavailableError as exc:
        raise UpstreamUnavailableError(str(exc), code="trainer_unavailable") from None


async def _run_state(bus: Bus, run_id: str) -> JobRunState:
    state = await _ask(client.run_state(bus, run_id))
    if state is None:
        raise UnknownRequestError(f"no job run {run_id!r}", code="unknown_run", param="run_id")
    return state


@get("/stats", summary="Runs by status, per-queue performance, failures, active training")
async def get_stats(bus: NamedDependency[Bus]) -> JobStatsReply:
    """Runs by status, per-queue performance and health, as the trainer computes them."""
    return await _ask(client.job_stats(bus, timeout=TRAINER_TIMEOUT))


@get("/failed", summary="Failed runs with their error, newest first")
async def get_failed(
    bus: NamedDependency[Bus],
    limit: Annotated[int, Parameter(ge=1, le=1000, description="at most this many")] = 20,
) -> list[FailedRun]:
    """The failed job registry; ``retried_as`` names a run's retry."""
    reply = await _ask(client.failed_runs(bus, limit, timeout=TRAINER_TIMEOUT))
    if reply.error:
        raise InvalidRequestError(reply.error, param="limit")
    return reply.runs


@get("/{run_id:str}", summary="A job run's live state")
async def get_run(run_id: RunId, bus: NamedDependency[Bus]) -> JobRunState:
    """Status, progress, step and error as the trainer last recorded them."""
    return await _run_state(bus, run_id)


@post("/{run_id:str}/retry", status_code=202, summary="Run a failed or cancelled run again")
async def retry_run(run_id: RunId, bus: NamedDependency[Bus]) -> RetryAccepted:
    """A new manual run of the same job, queue, config and time limit."""
    reply = await _ask(client.retry_run(bus, run_id, timeout=TRAINER_TIMEOUT))
    message = reply.error or f"run {run_id} cannot be retried"
    match reply.code:
        case None if reply.new_run_id and reply.job and reply.queue:
            return RetryAccepted(
                run_id=run_id, new_run_id=reply.new_run_id, job=reply.job, queue=reply.queue
            )
        case "unknown_run":
            raise UnknownRequestError(message, code="unknown_run", param="run_id")
        case "not_retryable" | "already_retried":
            raise JobConflictError(message, code=reply.code, param="run_id")
        case "invalid_request":
            raise InvalidRequestError(message, code=reply.code, param="run_id")
        case _:
            raise UpstreamUnavailableError(message, code=reply.code or "trainer_error")


@post("/{run_id:str}/cancel", status_code=202, summary="Stop a run at its next progress step")
async def cancel_run(
    run_id: RunId,
    bus: NamedDependency[Bus],
    reason: Annotated[str, Parameter(min_length=1, max_length=500)] = "cancelled through the API",
) -> CancelAccepted:
    """Write the cancellation flag ``nb jobs cancel`` writes (KV ``trainer_cancels``)."""
    state = await _run_state(bus, run_id)
    if state.status in TERMINAL_STATUSES:
        raise JobConflictError(
            f"run {run_id} of {state.job} already ended {state.status}; nothing to cancel",
            code="already_finished", param="run_id",
        )  # fmt: skip
    await _ask(client.request_cancel(bus, run_id, reason))
    return CancelAccepted(run_id=run_id, status="cancel_requested", reason=reason)


jobs_router = Router(
    path="/api/jobs",
    route_handlers=[get_stats, get_failed, get_run, retry_run, cancel_run],
    before_request=require_admin, tags=["jobs"],
)  # fmt: skip
