"""The proxy pipeline's settings: seed 003's names where it has them.

``LLM_PROVIDER``, ``OPENAI_*`` and ``OLLAMA_*`` build the primary profile
(:func:`neuralbridge.llm.profile_from_env`); ``LLM_TIMEOUT``/``LLM_MAX_RETRIES``…
(:class:`neuralbridge.llm.LLMSettings`) and ``EMBEDDER_*``
(:class:`neuralbridge.embedders.EmbedderSettings`) are read by the composition
root. API B, the fallback, is ``FALLBACK_PROVIDER`` (unset: no fallback),
``FALLBACK_MODEL``, ``FALLBACK_BASE_URL``, ``FALLBACK_CREDENTIAL`` (the NAME of
the variable holding its key) and ``FALLBACK_TEMPERATURE``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from neuralbridge.core.settings import CommonSettings
from neuralbridge.embedders import EmbedderProfile
from neuralbridge.llm import LLMProfile

__all__ = ["ProxyPipelineSettings"]

Positive = Annotated[int, msgspec.Meta(ge=1)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
Share = Annotated[float, msgspec.Meta(ge=0, le=1)]


class ProxyPipelineSettings(CommonSettings, frozen=True, kw_only=True):
    """Cache, retrieval, guardrail, fallback, session and consumer settings."""

    cache_enabled: bool = True
    cache_ttl_seconds: Seconds = 3600.0
    cache_max_size: Positive = 10_000
    #: Seconds between reads of the cache keys other replicas wrote (the filter
    #: that lets a certain miss skip the PostgreSQL lookup); 0: no filter.
    cache_key_filter_refresh_seconds: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    #: Part of every cache key: bump it when the knowledge base changes
    #: (unset: the collection name stands in).
    knowledge_version: str | None = None
    rag_collection: str = "knowledge"
    rag_top_k: Positive = 5
    rag_score_threshold: float = 0.25
    rag_embedder_provider: str = "local"
    rag_embedder_model: str = "all-MiniLM-L6-v2"
    rag_embedder_base_url: str | None = None
    rag_embedder_credential: str | None = None
    rag_embedder_dimensions: Positive | None = None
    #: Query embeddings per second to a remote provider, per process. Its own
    #: budget: the worker's batch limit (MAX_EMBEDDER_REQUESTS_PER_SECOND, 10)
    #: would cap the whole proxy at 10 questions per second.
    rag_embedder_requests_per_second: Annotated[float, msgspec.Meta(gt=0)] = 50.0
    max_input_chars: Positive = 8000
    #: Redact PII in what the LLM providers are sent (stored, logged and published text
    #: is redacted whatever this says).
    pii_redact_llm_input: bool = True
    injection_threshold: Share = 0.5
    confidence_threshold: Share = 0.35
    #: Confidence of an answer given with no retrieved passages to ground it.
    ungrounded_confidence: Share = 0.5
    fallback_provider: Literal["openai", "ollama", "extractive"] | None = None
    fallback_model: str | None = None
    fallback_base_url: str | None = None
    fallback_credential: str | None = None
    fallback_temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    session_ttl_seconds: Seconds = 3600.0
    session_max_turns: Positive = 5
    #: Requests answered at once per replica (mostly waiting on the LLM).
    proxy_concurrency: Positive = 64
    #: Seconds without a heartbeat before another replica gets the request.
    proxy_ack_wait: Seconds = 15.0
    proxy_retry_schedule: tuple[float, ...] = (1.0, 2.0)
    #: Seconds a batch of session turns and query logs stays open after its
    #: first answer (group commit; the client never waits for it).
    proxy_after_reply_linger_seconds: Annotated[float, msgspec.Meta(ge=0, le=5)] = 0.02

    @property
    def cache_namespace(self) -> str:
        """The knowledge version in cache keys."""
        return self.knowledge_version or self.rag_collection

    def embedder_profile(self) -> EmbedderProfile:
        """The query embedder (it must match the collection's document embedder)."""
        return msgspec.convert(
            {
                "provider": self.rag_embedder_provider,
                "model": self.rag_embedder_model,
                "base_url": self.rag_embedder_base_url,
                "credential": self.rag_embedder_credential,
                "dimensions": self.rag_embedder_dimensions,
            },
            EmbedderProfile,
        )

    def fallback_profile(self) -> LLMProfile | None:
        """API B, or ``None`` when ``FALLBACK_PROVIDER`` is unset."""
        if self.fallback_provider is None:
            return None
        return LLMProfile(
            provider=self.fallback_provider,
            model=self.fallback_model or _DEFAULT_FALLBACK_MODELS[self.fallback_provider],
            base_url=self.fallback_base_url,
            credential=self.fallback_credential,
            temperature=self.fallback_temperature,
        )


_DEFAULT_FALLBACK_MODELS = {
    "openai": "gpt-4o-mini",
    "ollama": "llama3.2",
    "extractive": "extractive",
}
