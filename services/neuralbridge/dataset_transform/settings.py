"""The dataset-transform worker's settings: seed 004's names, verbatim."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from neuralbridge.core.settings import CommonSettings

__all__ = ["DatasetTransformSettings"]

Positive = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]


class DatasetTransformSettings(CommonSettings, frozen=True, kw_only=True):
    """Worker, embedding, Qdrant and ingestion settings (defaults from seed 004).

    ``RETRY_SCHEDULE`` is the wait before each retry (seed 004: 30 s, 2 min,
    5 min, 15 min, 1 h); ``MAX_RETRIES`` caps how many are used (its last step
    repeats when it asks for more). Seed 004's env example says
    ``MAX_RETRIES=3`` while its retry section lists five steps; DESIGN.md
    follows the schedule, so the default is 5.
    """

    worker_concurrency: Positive = 4
    max_retries: NonNegative = 5
    retry_schedule: tuple[float, ...] = (30.0, 120.0, 300.0, 900.0, 3600.0)
    job_timeout: Seconds = 1800.0
    embedding_batch_size: Positive = 100
    max_chunks_per_job: Positive = 100_000
    embedder_timeout: Seconds = 60.0
    embedder_max_retries: NonNegative = 3
    embedder_retry_delay_ms: NonNegative = 1000
    max_embedder_requests_per_second: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    #: Batches being embedded at once per job. 1 keeps "after a crash at most one
    #: batch is embedded again"; K trades that for K-fold overlap (at most K again).
    embedder_concurrency: Positive = 1
    qdrant_create_collection: bool = True
    qdrant_distance: Literal["Cosine", "Euclid", "Dot", "Manhattan"] = "Cosine"
    qdrant_hnsw_m: Positive = 16
    qdrant_hnsw_ef_construct: Positive = 100
    qdrant_upload_batch_size: Positive = 100
    qdrant_enable_quantization: bool = False
    ingest_chunk_size: Positive = 512
    ingest_chunk_overlap: NonNegative = 50
    ingest_concurrency: Positive = 4
    #: Cached vectors unread for this many days are evicted (hourly); 0 keeps them forever.
    embedding_cache_ttl_days: NonNegative = 30

    def retry_delays(self) -> tuple[float, ...]:
        """The wait before retry 1..MAX_RETRIES."""
        if self.max_retries == 0:
            return ()
        steps = self.retry_schedule or (30.0,)
        return tuple(steps[min(i, len(steps) - 1)] for i in range(self.max_retries))
