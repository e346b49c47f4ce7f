"""Qdrant metrics, named as in seed 004 (verbatim)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "QDRANT_ERRORS",
    "QDRANT_SEARCH_DURATION",
    "QDRANT_UPLOADS",
    "QDRANT_UPLOAD_DURATION",
    "QDRANT_VECTORS_PER_BATCH",
]

QDRANT_UPLOADS = Counter("qdrant_upload", "Qdrant upload calls.", ["status"])
QDRANT_UPLOAD_DURATION = Histogram("qdrant_upload_duration_seconds", "Qdrant upload duration.")
QDRANT_VECTORS_PER_BATCH = Histogram(
    "qdrant_vectors_per_batch",
    "Vectors uploaded per batch.",
    buckets=(1, 10, 25, 50, 100, 250, 500, 1000, 2500),
)
QDRANT_ERRORS = Counter("qdrant_errors", "Qdrant errors.", ["error_type"])
QDRANT_SEARCH_DURATION = Histogram(
    "qdrant_search_duration_seconds",
    "Qdrant nearest-neighbour search duration.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
