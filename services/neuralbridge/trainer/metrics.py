"""The trainer's metrics (the runner's per-stream metrics come from the shared runner).

Labels are bounded: job names come from the registry, queues from ``QUEUES``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = [
    "EVENTS_INGESTED",
    "JOB_LAST_COMPLETED",
    "JOB_RUNS",
    "JOB_RUNS_ACTIVE",
    "TRAINER_READY",
]

JOB_RUNS = Counter(
    "trainer_job_runs",
    "Job run attempts by outcome (completed, failed, cancelled, retrying).",
    ["job", "queue", "status"],
)
JOB_RUNS_ACTIVE = Gauge("trainer_job_runs_active", "Job runs running right now.", ["queue"])
JOB_LAST_COMPLETED = Gauge(
    "trainer_job_last_completed_timestamp_seconds",
    "Unix time of the job's last completed run.",
    ["job"],
)
EVENTS_INGESTED = Counter(
    "trainer_events_ingested",
    "Query-log and feedback events stored (or skipped as duplicates / rejected).",
    ["stream", "outcome"],
)
TRAINER_READY = Gauge("trainer_ready", "1 while the trainer consumes its queues.")
