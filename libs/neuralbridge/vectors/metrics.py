"""Qdrant metrics, named as in seed 004 (verbatim)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["QDRANT_ERRORS", "QDRANT_UPLOADS", "QDRANT_UPLOAD_DURATION", "QDRANT_VECTORS_PER_BATCH"]

QDRANT_UPLOADS = Counter("qdrant_upload", "Qdrant upload calls.", ["status"])
QDRANT_UPLOAD_DURATION = Histogram("qdrant_upload_duration_seconds", "Qdrant upload duration.")
QDRANT_VECTORS_PER_BATCH = Histogram(
    "qdrant_vectors_per_batch",
    "Vectors uploaded per batch.",
    buckets=(1, 10, 25, 50, 100, 250, 500, 1000, 2500),
)
QDRANT_ERRORS = Counter("qdrant_errors", "Qdrant errors.", ["error_type"])
