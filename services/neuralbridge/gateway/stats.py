"""``GET /api/proxy/stats``: the pipeline's metrics, read from this process's registry.

In the all-in-one process (``nb up``) the proxy pipeline's Prometheus metrics
(:mod:`neuralbridge.proxy_pipeline.metrics`) live in the same registry as the
gateway's, so the numbers are live. When the gateway runs as its own process
the pipeline's metrics are in the pipeline's process: ``pipeline_in_process``
is then false and the counters are absent (scrape the pipeline's ``/metrics``,
or aggregate in Prometheus). Counters are totals since the process started.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import msgspec
from prometheus_client import REGISTRY, CollectorRegistry

__all__ = ["LatencyStats", "ProxyStats", "read_stats"]

_PIPELINE_METRICS = "neuralbridge.proxy_pipeline.metrics"
_ELSEWHERE = "the proxy pipeline runs in another process: read its /metrics"


class LatencyStats(msgspec.Struct, frozen=True, kw_only=True):
    """Requests answered by one provider and their mean latency."""

    requests: int
    mean_ms: float


class ProxyStats(msgspec.Struct, frozen=True, kw_only=True):
    """The pipeline's counters (seed 003: cache, latency, confidence, fallback, blocks).

    ``cache`` is keyed ``<layer>_<result>`` (memory, then PostgreSQL on a memory
    miss); the hit rate is hits over hits plus PostgreSQL misses.
    """

    pipeline_in_process: bool
    requests: dict[str, int]
    requests_total: int
    cache: dict[str, int]
    cache_hit_rate: float | None
    latency_by_provider: dict[str, LatencyStats]
    mean_confidence: float | None
    fallbacks: dict[str, int]
    fallback_rate: float | None
    guardrail_blocks: dict[str, int]
    note: str | None = None


def _samples(registry: CollectorRegistry) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for metric in registry.collect():
        if metric.name.startswith("proxy_"):
            for sample in metric.samples:
                found[sample.name].append((dict(sample.labels), sample.value))
    return found


def _by(samples: list[tuple[dict[str, str], float]], label: str) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for labels, value in samples:
        totals[labels.get(label, "")] += int(value)
    return dict(totals)


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def read_stats(registry: CollectorRegistry = REGISTRY) -> ProxyStats:
    """Summarise the ``proxy_*`` metrics of ``registry``."""
    s = _samples(registry)
    requests = _by(s["proxy_requests_total"], "outcome")
    cache = {
        f"{labels.get('layer')}_{labels.get('result')}": int(value)
        for labels, value in s["proxy_cache_lookups_total"]
    }
    hits = cache.get("memory_hit", 0) + cache.get("postgres_hit", 0)
    fallbacks = _by(s["proxy_fallback_total"], "reason")
    counts = _by(s["proxy_request_duration_seconds_count"], "provider")
    sums = {lb.get("provider", ""): v for lb, v in s["proxy_request_duration_seconds_sum"]}
    conf_n = sum(v for _, v in s["proxy_answer_confidence_count"])
    conf_sum = sum(v for _, v in s["proxy_answer_confidence_sum"])
    in_process = _PIPELINE_METRICS in sys.modules
    answered = requests.get("answered", 0) + requests.get("cached", 0)
    return ProxyStats(
        pipeline_in_process=in_process,
        requests=requests,
        requests_total=sum(requests.values()),
        cache=cache,
        cache_hit_rate=_ratio(hits, hits + cache.get("postgres_miss", 0)),
        latency_by_provider={
            p: LatencyStats(requests=n, mean_ms=round(sums.get(p, 0.0) / n * 1000, 2))
            for p, n in counts.items()
            if n
        },
        mean_confidence=_ratio(conf_sum, conf_n),
        fallbacks=fallbacks,
        fallback_rate=_ratio(sum(fallbacks.values()), answered),
        guardrail_blocks=_by(s["proxy_guardrail_blocks_total"], "reason"),
        note=None if in_process else _ELSEWHERE,
    )
