"""``GET /api/proxy/stats``: every proxy-pipeline replica's counts, gathered over NATS.

The gateway publishes one
:class:`~neuralbridge.messages.monitoring.PipelineStatsRequest` on
:data:`~neuralbridge.messages.monitoring.PIPELINE_STATS_SUBJECT`, which every
replica receives (no queue group), and collects the replies that arrive within
:data:`GATHER_SECONDS`, or until as many replicas as have a live heartbeat
answered. Counters are summed and histograms merged bucket by bucket; replies
from one process (replicas of the all-in-one ``nb up``, which share one metrics
registry) count once. Latency percentiles are estimated from the merged buckets
(linear inside a bucket, like Prometheus' ``histogram_quantile``). Totals are
since each replica's process started.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterable

import msgspec
import structlog
from nats.aio.msg import Msg

from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import PayloadError
from neuralbridge.core.schemas import decode, encode
from neuralbridge.messages.monitoring import (
    PIPELINE_STATS_SUBJECT,
    HistogramCounts,
    PipelineStatsReply,
    PipelineStatsRequest,
)

__all__ = [
    "GATHER_SECONDS",
    "LatencyStats",
    "ProxyStats",
    "gather_replies",
    "merge_stats",
    "quantile",
]

log = structlog.get_logger()

#: How long the gateway waits for replicas' replies.
GATHER_SECONDS = 0.3
_HITS = ("memory_hit", "postgres_hit")
_LOOKUPS = ("memory_hit", "postgres_hit", "postgres_miss", "postgres_skipped")


class LatencyStats(msgspec.Struct, frozen=True, kw_only=True):
    """Observations of one provider or stage: how many, mean, and percentiles (ms)."""

    requests: int
    mean_ms: float
    p50_ms: float
    p95_ms: float


class ProxyStats(msgspec.Struct, frozen=True, kw_only=True):
    """The pipeline's counters over every replica that answered.

    ``replicas`` is how many replicas answered. ``cache`` is keyed
    ``<layer>_<result>``: each query looks in memory, then (on a memory miss)
    in PostgreSQL, unless the key filter knows the key is absent
    (``postgres_skipped``). ``cache_lookups`` counts every query that consulted
    the cache, and ``cache_hit_rate`` is hits over those lookups.
    """

    replicas: int
    requests: dict[str, int]
    requests_total: int
    cache: dict[str, int]
    cache_lookups: int
    cache_hit_rate: float | None
    latency_by_provider: dict[str, LatencyStats]
    latency_by_stage: dict[str, LatencyStats]
    mean_confidence: float | None
    fallbacks: dict[str, int]
    fallback_rate: float | None
    guardrail_blocks: dict[str, int]


async def gather_replies(
    bus: Bus, *, expected: int = 0, within: float = GATHER_SECONDS
) -> list[PipelineStatsReply]:
    """Broadcast a stats request; return the replies received within ``within`` seconds.

    Args:
        bus: The gateway's bus.
        expected: Stop waiting once this many replicas answered (0: wait the window).
        within: The longest wait, in seconds.
    """
    replies: list[PipelineStatsReply] = []
    enough = asyncio.Event()

    async def on_reply(msg: Msg) -> None:
        try:
            replies.append(decode(msg.data, PipelineStatsReply))
        except PayloadError as exc:
            log.warning("stats_reply_rejected", error=str(exc))
            return
        if expected and len(replies) >= expected:
            enough.set()

    inbox = bus.nc.new_inbox()
    sub = await bus.nc.subscribe(inbox, cb=on_reply)
    try:
        await bus.nc.publish(PIPELINE_STATS_SUBJECT, encode(PipelineStatsRequest()), reply=inbox)
        with contextlib.suppress(TimeoutError):  # the window closed: report who answered
            await asyncio.wait_for(enough.wait(), within)
    finally:
        await sub.unsubscribe()
    return list(replies)


def _sum(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for found in counts:
        for key, value in found.items():
            totals[key] += value
    return dict(totals)


def _merge(histograms: Iterable[dict[str, HistogramCounts]]) -> dict[str, HistogramCounts]:
    merged: dict[str, HistogramCounts] = {}
    for found in histograms:
        for key, h in found.items():
            have = merged.get(key)
            if have is None:
                merged[key] = h
            elif have.bounds != h.bounds or len(have.counts) != len(h.counts):
                log.warning("stats_histogram_bounds_differ", histogram=key)
            else:
                counts = [a + b for a, b in zip(have.counts, h.counts, strict=True)]
                merged[key] = HistogramCounts(
                    bounds=h.bounds, counts=counts, total=have.total + h.total
                )
    return merged


def quantile(h: HistogramCounts, q: float) -> float:
    """The ``q`` quantile of ``h``, interpolated inside its bucket (the top bound above all)."""
    rank, seen, lower = q * sum(h.counts), 0, 0.0
    for bound, count in zip(h.bounds, h.counts, strict=False):
        if count and seen + count >= rank:
            return lower + (bound - lower) * (rank - seen) / count
        seen, lower = seen + count, bound
    return h.bounds[-1] if h.bounds else 0.0


def _latency(histograms: dict[str, HistogramCounts]) -> dict[str, LatencyStats]:
    stats: dict[str, LatencyStats] = {}
    for key, h in histograms.items():
        n = sum(h.counts)
        if n:
            stats[key] = LatencyStats(
                requests=n, mean_ms=round(h.total / n * 1000, 2),
                p50_ms=round(quantile(h, 0.5) * 1000, 2), p95_ms=round(quantile(h, 0.95) * 1000, 2),
            )  # fmt: skip
    return stats


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def merge_stats(replies: list[PipelineStatsReply]) -> ProxyStats:
    """Sum ``replies`` into one report (one reply per process counts)."""
    by_process = list({reply.process: reply for reply in replies}.values())
    requests = _sum(r.requests for r in by_process)
    cache = _sum(r.cache for r in by_process)
    fallbacks = _sum(r.fallbacks for r in by_process)
    confidence = _merge({"": r.confidence} for r in by_process if r.confidence).get("")
    lookups = sum(cache.get(key, 0) for key in _LOOKUPS)
    answered = requests.get("answered", 0) + requests.get("cached", 0)
    conf_n = sum(confidence.counts) if confidence else 0
    return ProxyStats(
        replicas=len({reply.replica for reply in replies}),
        requests=requests,
        requests_total=sum(requests.values()),
        cache=cache,
        cache_lookups=lookups,
        cache_hit_rate=_ratio(sum(cache.get(key, 0) for key in _HITS), lookups),
        latency_by_provider=_latency(_merge(r.latency_by_provider for r in by_process)),
        latency_by_stage=_latency(_merge(r.latency_by_stage for r in by_process)),
        mean_confidence=_ratio(confidence.total, conf_n) if confidence else None,
        fallbacks=fallbacks,
        fallback_rate=_ratio(sum(fallbacks.values()), answered),
        guardrail_blocks=_sum(r.guardrail_blocks for r in by_process),
    )
