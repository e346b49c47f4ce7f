"""OpenTelemetry tracing, with W3C trace context carried in NATS headers.

:func:`configure_tracing` installs a tracer provider with an OTLP exporter when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; otherwise the no-op tracer stays in
place, which records nothing but still carries the trace context, so ids
survive every hop even through a service that exports nothing. Hot paths ask
:func:`tracing_active` and skip span bookkeeping when nothing records.
:func:`inject_headers` writes ``traceparent`` (and ``tracestate``) into a
message's headers; :func:`extract_context` reads them back on the consumer
side, so one request is one trace across services.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "configure_tracing",
    "extract_context",
    "inject_headers",
    "tracer",
    "tracing_active",
]

_PROPAGATOR = TraceContextTextMapPropagator()
_ACTIVE = False


def configure_tracing(
    *,
    service_name: str,
    service_version: str = "0.1.0",
    otlp_endpoint: str | None = None,
    extra_processor: SpanProcessor | None = None,
) -> TracerProvider | None:
    """Install the global tracer provider.

    Args:
        service_name: ``service.name`` of every span.
        service_version: ``service.version`` of every span.
        otlp_endpoint: Export spans over OTLP there (gRPC, or HTTP when the URL
            ends in ``/v1/traces``); ``None`` exports nothing.
        extra_processor: An additional processor (tests use an in-memory one).

    Returns:
        The installed provider, or ``None`` when spans have nowhere to go.
    """
    global _ACTIVE  # noqa: PLW0603 - the process-wide provider is global by nature
    if not otlp_endpoint and extra_processor is None:
        return None
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name, "service.version": service_version})
    )
    if otlp_endpoint:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(otlp_endpoint)))
    if extra_processor is not None:
        provider.add_span_processor(extra_processor)
    trace.set_tracer_provider(provider)
    _ACTIVE = True
    return provider


def tracing_active() -> bool:
    """Whether spans are recorded (a provider with somewhere to send them)."""
    return _ACTIVE


def _otlp_exporter(endpoint: str):  # type: ignore[no-untyped-def]
    if endpoint.rstrip("/").endswith("/v1/traces"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint)
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcExporter,
    )

    return GrpcExporter(endpoint=endpoint)


def tracer() -> trace.Tracer:
    """The NeuralBridge tracer."""
    return trace.get_tracer("neuralbridge")


def inject_headers(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context to ``headers`` and return them."""
    _PROPAGATOR.inject(headers)
    return headers


def extract_context(headers: Mapping[str, str] | None) -> otel_context.Context:
    """Return the trace context carried by ``headers`` (empty when absent)."""
    return _PROPAGATOR.extract(dict(headers or {}))
