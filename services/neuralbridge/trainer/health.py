"""Seed 000's ``check_job_health``, as a result the stats reply carries.

The same three conditions as the Prometheus rules in ``deploy/prometheus/alerts.yml``,
computed from the streams and the ``job_runs`` table, so ``nb jobs stats`` and
``GET /api/jobs/stats`` say what an SRE's pager would:

- the embedding queues (``DATASET_TRANSFORMS`` and ``JOBS_EMBEDDINGS``) hold more
  than 100 messages not yet delivered;
- more than 10% of the training-queue runs that finished in the last 6 hours failed;
- ``cache_cleanup`` (hourly) last completed more than 2 hours ago — or never, once
  the trainer has been recording runs for 2 hours.

``message`` is the first condition that holds, in the seed's order; ``alerts``
lists all of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
from nats.js.errors import NotFoundError

from neuralbridge.core.bus import Bus
from neuralbridge.core.subjects import DATASET_TRANSFORMS_CONSUMER, DATASET_TRANSFORMS_STREAM
from neuralbridge.messages.training import JobHealth
from neuralbridge.trainer.recovery import TRAINING_QUEUE

__all__ = ["EMBEDDING_DEPTH_LIMIT", "job_health"]

EMBEDDING_DEPTH_LIMIT = 100
TRAINING_FAILURE_LIMIT = 0.1
_TRAINING_WINDOW = timedelta(hours=6)
_CLEANUP_OVERDUE = timedelta(hours=2)

_EMBEDDING_CONSUMERS = (
    (DATASET_TRANSFORMS_STREAM, DATASET_TRANSFORMS_CONSUMER),
    ("JOBS_EMBEDDINGS", "trainer-embeddings"),
)


async def job_health(bus: Bus, pool: asyncpg.Pool, now: datetime) -> JobHealth:
    """Check the three conditions at ``now`` (see the module docstring)."""
    depth = await _embedding_depth(bus)
    row = await pool.fetchrow(
        """
        SELECT count(*) FILTER (WHERE queue = $1 AND status = 'failed'
                                AND finished_at >= $2) AS failed,
               count(*) FILTER (WHERE queue = $1 AND status IN ('completed', 'failed')
                                AND finished_at >= $2) AS finished,
               max(finished_at) FILTER (WHERE job = 'cache_cleanup'
                                        AND status = 'completed') AS cleaned,
               min(created_at) AS first_run
        FROM job_runs
        """,
        TRAINING_QUEUE, now - _TRAINING_WINDOW,
    )  # fmt: skip
    assert row is not None  # an aggregate always returns one row
    rate = int(row["failed"]) / int(row["finished"]) if row["finished"] else None
    cleaned: datetime | None = row["cleaned"]
    first_run: datetime | None = row["first_run"]
    alerts = []
    if depth > EMBEDDING_DEPTH_LIMIT:
        alerts.append("Embedding queue backed up")
    if rate is not None and rate > TRAINING_FAILURE_LIMIT:
        alerts.append("High training job failure rate")
    if _cleanup_overdue(cleaned, first_run, now):
        alerts.append("Cache cleanup overdue")
    return JobHealth(
        status="alert" if alerts else "ok",
        message=alerts[0] if alerts else "All job queues healthy",
        alerts=alerts,
        embedding_queue_depth=depth,
        training_failure_rate=None if rate is None else round(rate, 4),
        cache_cleanup_last_completed=cleaned.isoformat() if cleaned else None,
    )


def _cleanup_overdue(cleaned: datetime | None, first_run: datetime | None, now: datetime) -> bool:
    if cleaned is not None:
        return now - cleaned > _CLEANUP_OVERDUE
    return first_run is not None and now - first_run > _CLEANUP_OVERDUE


async def _embedding_depth(bus: Bus) -> int:
    depth = 0
    for stream, consumer in _EMBEDDING_CONSUMERS:
        try:
            info = await bus.js.consumer_info(stream, consumer)
        except NotFoundError:
            continue
        depth += int(info.num_pending or 0)
    return depth
