"""``nb jobs stats`` and ``nb jobs cancel`` (the trainer answers; the CLI only asks)."""

from __future__ import annotations

import json
import sys

import msgspec

from neuralbridge.clients import ClientError, StateUnavailableError
from neuralbridge.clients.jobs import job_stats, request_cancel
from neuralbridge.core.bus import Bus

__all__ = ["jobs_cancel", "jobs_stats"]


async def jobs_stats(bus: Bus, *, as_json: bool) -> int:
    """Runs by status, per-queue performance, failures."""
    try:
        stats = await job_stats(bus)
    except ClientError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(msgspec.to_builtins(stats), indent=2))
        return 0
    print(
        "jobs by status: " + ", ".join(f"{k}={v}" for k, v in sorted(stats.jobs_by_status.items()))
    )
    for queue, perf in sorted(stats.queue_performance.items()):
        data = msgspec.to_builtins(perf)
        print(f"  {queue:13} " + "  ".join(f"{k}={v}" for k, v in data.items()))
    for failure in stats.recent_failures:
        row = msgspec.to_builtins(failure)
        print(f"  failed: {row.get('job')} {row.get('run_id')} {row.get('error_message')}")
    for run in stats.active_training_jobs:
        print(f"  training: {run.job} {run.run_id} {run.progress_percentage:.0f}% {run.step or ''}")
    health = stats.health
    print(
        f"health: {health.status}: {health.message}"
        + (f" (also: {', '.join(health.alerts[1:])})" if len(health.alerts) > 1 else "")
    )
    return 0


async def jobs_cancel(bus: Bus, run_id: str, *, reason: str) -> int:
    """Ask a running job to stop at its next progress report."""
    try:
        await request_cancel(bus, run_id, reason)
    except StateUnavailableError:
        print("the trainer has not started yet (no cancel bucket)", file=sys.stderr)
        return 1
    print(f"asked run {run_id} to stop ({reason})")
    return 0
