"""What a job sees of its run: identity, config, clock, progress and cancellation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from neuralbridge.core.bus import Bus
from neuralbridge.messages.jobs import JobRequest, run_id_for
from neuralbridge.messages.training import JobRunState, RunStatus
from neuralbridge.trainer import store
from neuralbridge.trainer.errors import CancelRequestedError
from neuralbridge.trainer.settings import TrainerSettings
from neuralbridge.trainer.state import RunBoard, now_iso

__all__ = ["Clock", "JobDef", "JobFn", "RunContext", "run_id_for"]

Clock = Callable[[], datetime]
JobFn = Callable[["RunContext"], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class JobDef:
    """A registered job: its name, what it runs, and whether it is a cleanup job."""

    name: str
    run: JobFn
    cleanup: bool = False


@dataclass(slots=True)
class RunContext:
    """Handed to a job function; everything it may touch."""

    run_id: str
    request: JobRequest
    attempt: int
    pool: asyncpg.Pool
    bus: Bus
    board: RunBoard
    settings: TrainerSettings
    clock: Clock
    progress_percentage: float = 0.0
    step: str | None = None

    async def progress(self, percentage: float, step: str) -> None:
        """Report progress (monotonic) and stop here if a cancellation was asked for.

        Raises:
            CancelRequestedError: ``nb jobs cancel <run id>`` was run for this run.
        """
        self.progress_percentage = await store.set_progress(
            self.pool, self.run_id, percentage, step
        )
        self.step = step
        await self.board.run(self.state("running"))
        await self.check_cancelled()

    async def check_cancelled(self) -> None:
        """Raise :class:`CancelRequestedError` when this run was asked to stop."""
        reason = await self.board.cancel_requested(self.run_id)
        if reason is not None:
            raise CancelRequestedError(reason)

    def state(self, status: RunStatus, error: str | None = None) -> JobRunState:
        """The run's live state with ``status``."""
        r = self.request
        return JobRunState(
            run_id=self.run_id, job=r.job, queue=r.queue, trigger=r.trigger, tick=r.tick,
            status=status, progress_percentage=self.progress_percentage, step=self.step,
            attempt=self.attempt, error_message=error, updated_at=now_iso(),
        )  # fmt: skip
