"""The handler every queue's runner calls: one :class:`JobRequest` → one job run.

Per message: find the run (stable id per job and tick), skip it if it already
finished (a redelivered or re-published tick runs once), record it
``running``, run the registered job inside its own time limit
(``JobRequest.timeout_seconds``), then record the outcome in PostgreSQL, KV
``trainer_runs`` and KV ``job_results`` and either return (the runner acks) or
raise :class:`RetryableError` with the delay :func:`recovery.decide` chose.
An unknown job is recorded ``failed`` and goes to the DLQ at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import asyncpg
import structlog

from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import PermanentError, RetryableError
from neuralbridge.core.runner import JobContext
from neuralbridge.messages.jobs import JobRequest
from neuralbridge.messages.training import JobOutcome, RunStatus
from neuralbridge.trainer import metrics as m
from neuralbridge.trainer import store
from neuralbridge.trainer.recovery import decide
from neuralbridge.trainer.runs import Clock, JobDef, RunContext, run_id_for
from neuralbridge.trainer.settings import TrainerSettings
from neuralbridge.trainer.state import RunBoard, now_iso

__all__ = ["Dispatcher"]

log = structlog.get_logger()


class Dispatcher:
    """Run registered jobs for one queue's :class:`JobRunner`.

    Args:
        registry: Job name → definition.
        max_deliver: The queue's deliveries in all (the last failure goes to the DLQ).
    """

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        bus: Bus,
        board: RunBoard,
        registry: Mapping[str, JobDef],
        settings: TrainerSettings,
        clock: Clock,
        max_deliver: int,
    ) -> None:
        self._pool, self._bus, self._board = pool, bus, board
        self._registry, self._settings, self._clock = registry, settings, clock
        self._max_deliver = max_deliver

    async def __call__(self, request: JobRequest, ctx: JobContext) -> None:
        run_id = run_id_for(request, ctx.msg_id, f"{ctx.stream}:{ctx.seq}")
        structlog.contextvars.bind_contextvars(job=request.job, run_id=run_id)
        try:
            await self._handle(request, ctx, run_id)
        finally:
            structlog.contextvars.unbind_contextvars("job", "run_id")

    async def _handle(self, request: JobRequest, ctx: JobContext, run_id: str) -> None:
        if await store.is_finished(self._pool, run_id):
            log.info("job_run_already_finished", tick=request.tick)
            return
        run = RunContext(
            run_id=run_id, request=request, attempt=ctx.deliveries, pool=self._pool,
            bus=self._bus, board=self._board, settings=self._settings, clock=self._clock,
        )  # fmt: skip
        await store.start_run(self._pool, run_id, request, ctx.deliveries)
        definition = self._registry.get(request.job)
        if definition is None:
            reason = f"unknown job {request.job!r}: no handler is registered for it"
            await self._finish(run, "failed", error=reason)
            raise PermanentError(reason)
        await self._board.run(run.state("running"))
        active = m.JOB_RUNS_ACTIVE.labels(request.queue)
        active.inc()
        try:
            async with asyncio.timeout(request.timeout_seconds):
                results = await definition.run(run)
        except Exception as exc:  # noqa: BLE001 - every failure is classified by decide()
            await self._failed(run, definition, exc)
        else:
            await self._finish(run, "completed", results=results)
        finally:
            active.dec()

    async def _failed(self, run: RunContext, definition: JobDef, exc: Exception) -> None:
        if isinstance(exc, TimeoutError):
            error = f"job ran longer than its {run.request.timeout_seconds:g}s time limit"
        else:
            error = str(exc) or type(exc).__name__
        decision = decide(
            exc, queue=run.request.queue, cleanup=definition.cleanup, attempt=run.attempt,
            rate_limit_base=self._settings.rate_limit_retry_seconds,
            cleanup_delay=self._settings.cleanup_retry_seconds,
        )  # fmt: skip
        if not decision.retry:
            await self._finish(run, decision.status, error=error)
            return
        if run.attempt >= self._max_deliver:
            await self._finish(run, "failed", error=f"{error} (gave up after {run.attempt} "
                               "attempts; the job is in its queue's DLQ)")  # fmt: skip
        else:
            await store.record_retry(self._pool, run.run_id, error)
            await self._board.run(run.state("pending", error))
            m.JOB_RUNS.labels(run.request.job, run.request.queue, "retrying").inc()
        raise RetryableError(f"{type(exc).__name__}: {error}", delay=decision.delay) from exc

    async def _finish(
        self,
        run: RunContext,
        status: RunStatus,
        *,
        results: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        if not await store.finish_run(self._pool, run.run_id, status, results=results,
                                      error=error):  # fmt: skip
            return
        request = run.request
        if status == "completed":
            run.progress_percentage = 100.0
            m.JOB_LAST_COMPLETED.labels(request.job).set(time.time())
        state = run.state(status, error)
        await self._board.run(state)
        await self._board.outcome(
            JobOutcome(
                job=request.job,
                run_id=run.run_id,
                status=state.status,
                finished_at=now_iso(),
                error_message=error,
            )
        )
        m.JOB_RUNS.labels(request.job, request.queue, status).inc()
        log.info("job_run_finished", status=status, attempt=run.attempt, error=error)
