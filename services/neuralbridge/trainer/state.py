"""Live state in KV: each run under its id (``trainer_runs``), each job's last
outcome under its name (``job_results``), cancellation flags (``trainer_cancels``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import encode
from neuralbridge.core.subjects import JOB_RESULTS_KV, TRAINER_CANCELS_KV, TRAINER_RUNS_KV
from neuralbridge.messages.training import JobOutcome, JobRunState

__all__ = ["RunBoard", "now_iso"]


def now_iso() -> str:
    """The current UTC time, ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class RunBoard:
    """Write run state and outcomes; read cancellation flags."""

    def __init__(self, runs: KeyValue, results: KeyValue, cancels: KeyValue) -> None:
        self._runs, self._results, self._cancels = runs, results, cancels

    @classmethod
    async def open(cls, bus: Bus) -> RunBoard:
        """Bind to the (already declared) buckets."""
        js = bus.js
        return cls(
            await js.key_value(TRAINER_RUNS_KV),
            await js.key_value(JOB_RESULTS_KV),
            await js.key_value(TRAINER_CANCELS_KV),
        )

    async def run(self, state: JobRunState) -> None:
        """Store a run's live state."""
        stamped = msgspec.structs.replace(state, updated_at=now_iso())
        await self._runs.put(state.run_id, encode(stamped))

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
