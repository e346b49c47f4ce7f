"""The worker's metrics, named as in seed 004 (verbatim), with its labels.

Embedder metrics live with the clients (``neuralbridge.embedders.metrics``) and
Qdrant's with the vector store (``neuralbridge.vectors.metrics``); the runner's
per-stream metrics (queue depth, ack-pending, redeliveries, DLQ) come from the
shared job runner.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ACTIVE_JOBS",
    "BATCHES_PROCESSED",
    "CHUNKS_EMBEDDED",
    "DURATION",
    "EMBEDDING_CACHE_EVICTED",
    "JOBS",
    "WORKER",
    "WORKER_ACTIVE_JOBS",
    "WORKER_FAILURES",
    "WORKER_READY",
    "WORKER_RETRIES",
]

WORKER = "worker-datasets"
_PER_JOB = (1, 5, 10, 50, 100, 500, 1000, 5000, 10_000, 50_000, 100_000)

JOBS = Counter("dataset_transform_jobs", "Total jobs processed.", ["status"])
DURATION = Histogram(
    "dataset_transform_duration_seconds",
    "Job processing duration.",
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600),
)
ACTIVE_JOBS = Gauge("dataset_transform_active_jobs", "Active jobs currently processing.")
BATCHES_PROCESSED = Histogram(
    "dataset_transform_batches_processed", "Batches processed per job.", buckets=_PER_JOB
)
CHUNKS_EMBEDDED = Histogram(
    "dataset_transform_chunks_embedded", "Chunks embedded per job.", buckets=_PER_JOB
)
EMBEDDING_CACHE_EVICTED = Counter(
    "nb_embedding_cache_evicted",
    "Cached vectors evicted, unread for EMBEDDING_CACHE_TTL_DAYS.",
)
WORKER_READY = Gauge("worker_ready", "Worker health.", ["worker"])
WORKER_ACTIVE_JOBS = Gauge("worker_active_jobs", "Active worker tasks.", ["worker"])
WORKER_RETRIES = Counter("worker_job_retries", "Job retries.", ["worker"])
WORKER_FAILURES = Counter("worker_job_failures", "Worker failures.", ["worker", "error_type"])
