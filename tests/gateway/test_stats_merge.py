"""Replicas' counts merge exactly: counters summed, histograms bucket by bucket, one per process."""

from __future__ import annotations

import msgspec

from neuralbridge.gateway.stats import merge_stats, quantile
from neuralbridge.messages.monitoring import HistogramCounts, PipelineStatsReply

BOUNDS = [0.1, 0.5, 1.0]


def _reply(replica: str, process: str, *, answered: int, slow: int) -> PipelineStatsReply:
    return PipelineStatsReply(
        replica=replica,
        process=process,
        requests={"answered": answered, "failed": 1},
        cache={"memory_hit": 2, "memory_miss": 4, "postgres_hit": 1, "postgres_skipped": 3},
        latency_by_provider={
            "openai": HistogramCounts(bounds=BOUNDS, counts=[answered, slow, 0, 0], total=1.5)
        },
        fallbacks={"low_confidence": 1},
        confidence=HistogramCounts(bounds=[0.5, 1.0], counts=[0, answered], total=0.9 * answered),
    )


def test_merge_two_processes_sums_counters_and_buckets() -> None:
    """Two processes: requests, cache and histogram buckets are summed; replicas is 2."""
    stats = merge_stats(
        [_reply("a", "p1", answered=6, slow=2), _reply("b", "p2", answered=2, slow=0)]
    )
    assert stats.replicas == 2
    assert stats.requests == {"answered": 8, "failed": 2}
    assert stats.requests_total == 10
    assert stats.cache["postgres_skipped"] == 6
    assert stats.cache_lookups == 4 + 2 + 6  # memory hits, postgres hits, skipped misses
    assert stats.cache_hit_rate == round(6 / 12, 4)
    latency = stats.latency_by_provider["openai"]
    assert latency.requests == 10
    assert latency.mean_ms == 300.0
    assert latency.p50_ms == 62.5  # rank 5 of 8 in the first bucket [0, 0.1]
    assert latency.p95_ms == 0.1 * 1000 + 0.4 * 1000 * (9.5 - 8) / 2
    assert stats.fallbacks == {"low_confidence": 2}
    assert stats.fallback_rate == round(2 / 8, 4)
    assert stats.mean_confidence == 0.9


def test_merge_replicas_of_one_process_counts_its_registry_once() -> None:
    """Replicas sharing a process (and its metrics registry) are counted once, seen twice."""
    one = _reply("a", "p1", answered=3, slow=0)
    stats = merge_stats([one, msgspec.structs.replace(one, replica="b")])
    assert (stats.replicas, stats.requests_total) == (2, 4)


def test_merge_without_replies_reports_zero_replicas_and_no_rates() -> None:
    """Nobody answered: zero replicas, empty counts, rates are null rather than invented."""
    stats = merge_stats([])
    assert (stats.replicas, stats.requests_total, stats.cache_lookups) == (0, 0, 0)
    assert stats.cache_hit_rate is None
    assert stats.mean_confidence is None
    assert stats.latency_by_provider == {}


def test_quantile_above_every_bound_is_the_top_bound() -> None:
    """Observations in the overflow bucket are reported at the highest finite bound."""
    assert quantile(HistogramCounts(bounds=BOUNDS, counts=[0, 0, 0, 5], total=50.0), 0.5) == 1.0
