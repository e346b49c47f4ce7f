"""This replica's answer to the gateway's stats broadcast.

Every replica subscribes to
:data:`~neuralbridge.messages.monitoring.PIPELINE_STATS_SUBJECT` WITHOUT a
queue group, so each one answers the same request with a
:class:`~neuralbridge.messages.monitoring.PipelineStatsReply`: the raw counts of
its process's ``proxy_*`` metrics (:mod:`neuralbridge.proxy_pipeline.metrics`),
histograms as per-bucket counts so the gateway merges them exactly, and the
measured health of its providers.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Callable

import structlog
from nats.aio.msg import Msg
from prometheus_client import REGISTRY, CollectorRegistry

from neuralbridge.core.bus import Bus, BusSubscription
from neuralbridge.core.errors import PayloadError
from neuralbridge.core.schemas import decode, encode
from neuralbridge.messages.monitoring import (
    PIPELINE_STATS_SUBJECT,
    HistogramCounts,
    PipelineStatsReply,
    PipelineStatsRequest,
    ProviderHealth,
)

__all__ = ["PROCESS", "read_counts", "serve_stats"]

log = structlog.get_logger()

#: This process (replicas sharing it share its metrics registry).
PROCESS = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

Samples = dict[str, list[tuple[dict[str, str], float]]]


def _samples(registry: CollectorRegistry) -> Samples:
    found: Samples = defaultdict(list)
    for metric in registry.collect():
        if metric.name.startswith("proxy_"):
            for sample in metric.samples:
                found[sample.name].append((dict(sample.labels), sample.value))
    return found


def _counter(samples: Samples, name: str, *labels: str) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for found, value in samples[f"{name}_total"]:
        totals["_".join(found.get(label, "") for label in labels)] += int(value)
    return dict(totals)


def _histograms(samples: Samples, name: str, label: str | None) -> dict[str, HistogramCounts]:
    cumulative: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for found, value in samples[f"{name}_bucket"]:
        cumulative[found.get(label, "") if label else ""].append((float(found["le"]), int(value)))
    sums = {(lb.get(label, "") if label else ""): v for lb, v in samples[f"{name}_sum"]}
    merged: dict[str, HistogramCounts] = {}
    for key, buckets in cumulative.items():
        buckets.sort()
        counts = [n - (buckets[i - 1][1] if i else 0) for i, (_, n) in enumerate(buckets)]
        if sum(counts):
            bounds = [le for le, _ in buckets[:-1]]  # the last is +Inf
            merged[key] = HistogramCounts(bounds=bounds, counts=counts, total=sums.get(key, 0.0))
    return merged


def read_counts(
    replica: str,
    providers: list[ProviderHealth],
    registry: CollectorRegistry = REGISTRY,
) -> PipelineStatsReply:
    """The ``proxy_*`` counts of ``registry`` as one replica's reply."""
    s = _samples(registry)
    return PipelineStatsReply(
        replica=replica,
        process=PROCESS,
        requests=_counter(s, "proxy_requests", "outcome"),
        cache=_counter(s, "proxy_cache_lookups", "layer", "result"),
        latency_by_provider=_histograms(s, "proxy_request_duration_seconds", "provider"),
        latency_by_stage=_histograms(s, "proxy_stage_duration_seconds", "stage"),
        fallbacks=_counter(s, "proxy_fallback", "reason"),
        guardrail_blocks=_counter(s, "proxy_guardrail_blocks", "reason"),
        confidence=_histograms(s, "proxy_answer_confidence", None).get(""),
        providers=providers,
    )


async def serve_stats(
    bus: Bus, replica: str, providers: Callable[[], list[ProviderHealth]]
) -> BusSubscription:
    """Answer every stats broadcast; unsubscribe the returned subscription to stop."""

    async def on_request(msg: Msg) -> None:
        try:
            decode(msg.data, PipelineStatsRequest)
        except PayloadError as exc:
            log.warning("stats_request_rejected", error=str(exc))
            return
        if msg.reply:
            await msg.respond(encode(read_counts(replica, providers())))

    return await bus.subscribe(PIPELINE_STATS_SUBJECT, cb=on_request)
