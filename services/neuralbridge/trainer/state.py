"""Live state in KV: each run under its id (``trainer_runs``), each job's last
outcome under its name (``job_results``), cancellation flags (``trainer_cancels``).

Every run state stored is also published, in the order stored, on
``trainer.events.<run id>.progress`` (a running run's progress report: running
with a ``step``; only :meth:`RunContext.progress` sets one) or
``trainer.events.<run id>.status`` (every other change) in stream
``TRAINER_EVENTS``. KV stays the live state: an event that cannot be published
is logged, and the run goes on.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import structlog
from nats.errors import Error as NatsError
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import encode
from neuralbridge.core.subjects import (
    JOB_RESULTS_KV,
    TRAINER_CANCELS_KV,
    TRAINER_RUNS_KV,
    trainer_event_subject,
)
from neuralbridge.messages.training import JobOutcome, JobRunState

__all__ = ["RunBoard", "event_kind", "now_iso"]

log = structlog.get_logger()


def now_iso() -> str:
    """The current UTC time, ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def event_kind(state: JobRunState) -> str:
    """``progress`` for a running run's progress report, else ``status``."""
    return "progress" if state.status == "running" and state.step is not None else "status"


class RunBoard:
    """Write run state and outcomes (publishing each state as an event); read cancel flags."""

    def __init__(
        self,
        runs: KeyValue,
        results: KeyValue,
        cancels: KeyValue,
        events: Bus | None = None,
    ) -> None:
        self._runs, self._results, self._cancels = runs, results, cancels
        self._events = events

    @classmethod
    async def open(cls, bus: Bus) -> RunBoard:
        """Bind to the (already declared) buckets."""
        js = bus.js
        return cls(
            await js.key_value(TRAINER_RUNS_KV),
            await js.key_value(JOB_RESULTS_KV),
            await js.key_value(TRAINER_CANCELS_KV),
            bus,
        )

    async def run(self, state: JobRunState) -> None:
        """Store a run's live state, then publish it as an event."""
        stamped = msgspec.structs.replace(state, updated_at=now_iso())
        data = encode(stamped)
        await self._runs.put(state.run_id, data)
        if self._events is None:
            return
        subject = trainer_event_subject(state.run_id, event_kind(stamped))
        try:
            await self._events.publish(subject, data)
        except (NatsError, TimeoutError) as exc:
            log.warning("run_event_not_published", run_id=state.run_id, status=state.status,
                        error_type=type(exc).__name__)  # fmt: skip

    async def outcome(self, outcome: JobOutcome) -> None:
        """Store a job's last outcome (``nb scheduler status`` shows its status)."""
        await self._results.put(outcome.job, encode(outcome))

    async def cancel_requested(self, run_id: str) -> str | None:
        """The reason someone gave for cancelling ``run_id``, or ``None``."""
        try:
            entry = await self._cancels.get(run_id)
        except KeyNotFoundError:
            return None
        if entry is None or entry.value is None:
            return None
        return entry.value.decode() or "cancelled by request"
