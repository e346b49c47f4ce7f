"""The trainer's metrics (the runner's per-stream metrics come from the shared runner).

Labels are bounded: job names come from the registry, queues from ``QUEUES``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = [
    "CACHE_CLEANUP_BYTES",
    "CACHE_CLEANUP_ENTRIES",
    "CACHE_CLEANUP_INSTANCES",
    "EVENTS_INGESTED",
    "FEEDBACK_ARCHIVED",
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
# cache_cleanup: the last run's instance count; "cache cleanup overdue" (deploy/prometheus/
# alerts.yml) reads trainer_job_last_completed_timestamp_seconds{job="cache_cleanup"}.
CACHE_CLEANUP_ENTRIES = Counter(
    "trainer_cache_cleanup_entries",
    "Response-cache entries removed by cache_cleanup, by layer (persistent, memory).",
    ["layer"],
)
CACHE_CLEANUP_BYTES = Counter(
    "trainer_cache_cleanup_bytes",
    "JSON bytes of the response-cache entries removed by cache_cleanup, by layer.",
    ["layer"],
)
CACHE_CLEANUP_INSTANCES = Gauge(
    "trainer_cache_cleanup_instances",
    "Proxy-pipeline instances that answered the last cache_cleanup's memory purge.",
)
FEEDBACK_ARCHIVED = Counter(
    "trainer_feedback_archived",
    "Feedback rows archived to gzip JSONL and deleted by feedback_cleanup.",
)
