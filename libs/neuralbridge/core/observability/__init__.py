"""Logging, metrics, tracing and the health endpoint shared by every service."""

from neuralbridge.core.observability.http import HealthServer, ReadinessCheck
from neuralbridge.core.observability.logs import configure_logging, scrub
from neuralbridge.core.observability.tracing import (
    configure_tracing,
    extract_context,
    inject_headers,
    tracer,
    tracing_active,
)

__all__ = [
    "HealthServer",
    "ReadinessCheck",
    "configure_logging",
    "configure_tracing",
    "extract_context",
    "inject_headers",
    "scrub",
    "tracer",
    "tracing_active",
]
