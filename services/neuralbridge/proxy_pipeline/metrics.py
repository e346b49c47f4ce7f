"""The pipeline's metrics (seed 003's "cache hit/miss, latency per provider,
confidence, API B fallback rate, guardrail blocks"), and the per-stage timer.

:func:`stage` wraps each pipeline stage (``input_guardrails``, ``cache``,
``retrieval``, ``generation``, ``output_guardrails``, ``fallback``, ``session``,
``query_log``) in an OpenTelemetry span (when tracing records) and observes
``proxy_stage_duration_seconds{stage}``. LLM client metrics live with the
clients (``neuralbridge.llm.metrics``), Qdrant's with the vector store, the
stream's with the job runner. Labels are bounded: no query text, no ids.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from prometheus_client import Counter, Gauge, Histogram

from neuralbridge.core.observability.tracing import tracer, tracing_active

__all__ = [
    "AFTER_REPLY_BATCH",
    "CACHE_ENTRIES",
    "CACHE_LOOKUPS",
    "CONFIDENCE",
    "FALLBACKS",
    "GUARDRAIL_BLOCKS",
    "GUARDRAIL_FINDINGS",
    "REQUESTS",
    "REQUEST_DURATION",
    "STAGE_DURATION",
    "stage",
]

_LATENCY = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUESTS = Counter(
    "proxy_requests_total",
    "Proxy requests by outcome (answered, cached, failed, blocked, expired).",
    ["outcome"],
)
REQUEST_DURATION = Histogram(
    "proxy_request_duration_seconds",
    "End-to-end pipeline latency by the provider that answered.",
    ["provider"],
    buckets=_LATENCY,
)
STAGE_DURATION = Histogram(
    "proxy_stage_duration_seconds", "Duration of one pipeline stage.", ["stage"], buckets=_LATENCY
)
CACHE_LOOKUPS = Counter(
    "proxy_cache_lookups_total", "Response-cache lookups by layer and result.", ["layer", "result"]
)
CACHE_ENTRIES = Gauge("proxy_cache_memory_entries", "Entries in the in-memory response cache.")
CONFIDENCE = Histogram(
    "proxy_answer_confidence",
    "Confidence of final answers.",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
FALLBACKS = Counter("proxy_fallback_total", "Requests routed to API B, by reason.", ["reason"])
GUARDRAIL_FINDINGS = Counter(
    "proxy_guardrail_findings_total", "PII findings by stage and kind.", ["stage", "kind"]
)
AFTER_REPLY_BATCH = Histogram(
    "proxy_after_reply_batch_size",
    "Answered requests whose session turns and query logs were stored together.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
GUARDRAIL_BLOCKS = Counter(
    "proxy_guardrail_blocks_total", "Requests refused by input guardrails.", ["reason"]
)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time one pipeline stage, inside a span named ``proxy.<name>``."""
    started = time.perf_counter()
    try:
        if not tracing_active():
            yield
            return
        with tracer().start_as_current_span(f"proxy.{name}", kind=trace.SpanKind.INTERNAL):
            yield
    finally:
        STAGE_DURATION.labels(name).observe(time.perf_counter() - started)
