"""Prometheus metrics of the embedder clients, recorded once per HTTP call.

Names follow the dataset worker's specification verbatim. Labels are bounded:
the provider name, ``success``/``failure`` and a short error type.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["API_CALLS", "API_DURATION", "API_ERRORS", "CHUNKS_PER_CALL"]

API_CALLS = Counter(
    "embedder_api_calls_total",
    "Embedder API calls (HTTP requests), by provider and status (success, failure).",
    ["provider", "status"],
)
API_DURATION = Histogram(
    "embedder_api_duration_seconds",
    "Duration of one embedder API call.",
    ["provider"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
CHUNKS_PER_CALL = Histogram(
    "embedder_chunks_per_call",
    "Inputs sent in one embedder API call.",
    ["provider"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 96, 128, 256, 512, 1000, 2048),
)
API_ERRORS = Counter(
    "embedder_api_errors_total",
    "Failed embedder API calls, by error type (rate_limited, server_error, timeout, "
    "connection, client_error, bad_response).",
    ["provider", "error_type"],
)
