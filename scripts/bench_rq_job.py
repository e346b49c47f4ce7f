"""The no-op job RQ workers run in scripts/bench_bus.py (an importable module, as RQ requires)."""

from __future__ import annotations

import time

from rq import get_current_job


def noop(enqueued_at: float) -> None:
    """Record enqueue→start in Redis."""
    job = get_current_job()
    assert job is not None
    job.connection.rpush("bench:latency", time.time() - enqueued_at)
