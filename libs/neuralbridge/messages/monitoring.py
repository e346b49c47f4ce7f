"""What services tell each other about themselves: heartbeats and pipeline statistics.

* Heartbeats: every service replica puts a :class:`Heartbeat` every few
  seconds into the KV bucket :data:`HEARTBEATS_KV` under ``<service>.<replica>``;
  the bucket's TTL drops a replica that stopped beating.
* Statistics: the gateway publishes one :class:`PipelineStatsRequest` on
  :data:`PIPELINE_STATS_SUBJECT`; EVERY proxy-pipeline replica (a plain
  subscription, no queue group) answers a :class:`PipelineStatsReply` with its
  raw counts, which the gateway sums (histograms bucket by bucket).

Counts are the process's Prometheus totals since it started. Replicas that
share one process (the all-in-one ``nb up``) share one registry, so their
replies carry the same ``process`` and are counted once. Nothing here is a
secret: provider errors are named by class only.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from neuralbridge.core.schemas import Message

__all__ = [
    "HEARTBEATS_KV",
    "HEARTBEAT_TTL_SECONDS",
    "PIPELINE_STATS_SUBJECT",
    "Heartbeat",
    "HistogramCounts",
    "PipelineStatsReply",
    "PipelineStatsRequest",
    "ProviderHealth",
    "heartbeat_key",
]

#: KV bucket of service heartbeats, key ``<service>.<replica>``.
HEARTBEATS_KV = "service_heartbeats"
#: A replica whose last heartbeat is older than this is gone (the bucket's TTL).
HEARTBEAT_TTL_SECONDS = 15.0
#: Broadcast: every proxy-pipeline replica answers with its counts.
PIPELINE_STATS_SUBJECT = "monitoring.proxy_pipeline.stats"

Count = Annotated[int, msgspec.Meta(ge=0)]
Key = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


def heartbeat_key(service: str, replica: str) -> str:
    """The KV key of one replica's heartbeat (``<service>.<replica>``)."""
    return f"{service}.{replica}"


class Heartbeat(Message, frozen=True, kw_only=True):
    """One replica of one service is alive.

    Attributes:
        service: The service name (``gateway``, ``proxy_pipeline``, ...).
        replica: This replica's id, unique per process start.
        started_at: Unix time the replica started.
        sent_at: Unix time of this heartbeat.
        version: The installed NeuralBridge version.
        ready: Whether every readiness check of the replica's process passed.
        checks: The failing readiness checks, ``{name: reason}`` (empty when ready).
    """

    service: Key
    replica: Key
    started_at: float
    sent_at: float
    version: str
    ready: bool
    checks: dict[str, str] = msgspec.field(default_factory=dict)


class HistogramCounts(msgspec.Struct, frozen=True, kw_only=True):
    """A histogram as raw counts, so replicas merge exactly.

    Attributes:
        bounds: Upper bounds of the finite buckets, ascending.
        counts: Observations per bucket, NOT cumulative; one more than
            ``bounds`` (the last is above every bound).
        total: Sum of the observed values.
    """

    bounds: list[float]
    counts: list[Count]
    total: float = 0.0


class ProviderHealth(msgspec.Struct, frozen=True, kw_only=True):
    """What one replica measured of one configured LLM provider.

    Attributes:
        role: ``primary_llm`` (``LLM_PROVIDER``) or ``api_b`` (the fallback).
        provider: The provider name (``openai``, ``ollama``, ``extractive``).
        model: The configured model.
        last_success_at: Unix time of the last call that answered.
        last_error_at: Unix time of the last call that failed.
        last_error_class: The class of that failure (never its message).
        calls: Calls (and probes) inside the window.
        errors: Failed calls (and probes) inside the window.
        window_seconds: The window ``calls`` and ``errors`` cover.
        last_probe_at: Unix time of the last active probe, if one ran.
    """

    role: Literal["primary_llm", "api_b"]
    provider: str
    model: str
    last_success_at: float | None = None
    last_error_at: float | None = None
    last_error_class: str | None = None
    calls: Count = 0
    errors: Count = 0
    window_seconds: float = 300.0
    last_probe_at: float | None = None


class PipelineStatsRequest(Message, frozen=True, kw_only=True):
    """Ask every proxy-pipeline replica for its counts."""


class PipelineStatsReply(Message, frozen=True, kw_only=True):
    """One replica's counts since its process started.

    Attributes:
        replica: The replica's id (as in its heartbeat).
        process: The process whose metrics registry the counts come from.
        requests: Requests by outcome (answered, cached, failed, blocked, expired).
        cache: Lookups keyed ``<layer>_<result>`` (``memory_hit``, ``memory_miss``,
            ``postgres_hit``, ``postgres_miss``, ``postgres_skipped``).
        latency_by_provider: End-to-end latency (seconds) by answering provider.
        latency_by_stage: Latency (seconds) of each pipeline stage.
        fallbacks: Requests sent to API B, by reason.
        guardrail_blocks: Requests refused by input guardrails, by reason.
        confidence: Confidence of final answers.
        providers: Measured health of the primary LLM and API B.
    """

    replica: str
    process: str
    requests: dict[str, Count] = msgspec.field(default_factory=dict)
    cache: dict[str, Count] = msgspec.field(default_factory=dict)
    latency_by_provider: dict[str, HistogramCounts] = msgspec.field(default_factory=dict)
    latency_by_stage: dict[str, HistogramCounts] = msgspec.field(default_factory=dict)
    fallbacks: dict[str, Count] = msgspec.field(default_factory=dict)
    guardrail_blocks: dict[str, Count] = msgspec.field(default_factory=dict)
    confidence: HistogramCounts | None = None
    providers: list[ProviderHealth] = msgspec.field(default_factory=list)
