"""The worker's bus contract: DATASET_TRANSFORMS (DESIGN.md), ingest, events, state."""

from __future__ import annotations

from nats.js import JetStreamContext

from neuralbridge.core.streams import DATASET_EVENTS
from neuralbridge.core.subjects import (
    DATASET_INGEST_CONSUMER,
    DATASET_INGEST_STREAM,
    DATASET_INGEST_SUBJECTS,
    DATASET_TRANSFORMS_CONSUMER,
    DATASET_TRANSFORMS_DLQ_CONSUMER,
    DATASET_TRANSFORMS_STREAM,
    DATASET_TRANSFORMS_SUBJECTS,
    TRANSFORMS_KV,
    UPLOADS_KV,
    UPLOADS_OBJECT_STORE,
)
from neuralbridge.core.topology import (
    KVSpec,
    WorkSpec,
    declare_kv,
    declare_object_store,
    declare_stream,
    declare_work,
    use_replicas,
    work_spec,
)

__all__ = ["SEED_RETRY_SCHEDULE", "declare_all", "ingest_work", "transforms_work"]

#: The dataset-transform retry schedule: 30 s, 2 min, 5 min, 15 min, 1 h, then the DLQ.
SEED_RETRY_SCHEDULE: tuple[float, ...] = (30.0, 120.0, 300.0, 900.0, 3600.0)


def transforms_work(
    schedule: tuple[float, ...] = SEED_RETRY_SCHEDULE, *, max_ack_pending: int = 1000
) -> WorkSpec:
    """The stream, consumer and DLQ; ``len(schedule) + 1`` deliveries in all."""
    return work_spec(
        DATASET_TRANSFORMS_STREAM,
        DATASET_TRANSFORMS_SUBJECTS,
        DATASET_TRANSFORMS_CONSUMER,
        dlq_consumer=DATASET_TRANSFORMS_DLQ_CONSUMER,
        ack_wait=schedule[0] if schedule else 30.0,
        backoff=schedule,
        max_deliver=len(schedule) + 1,
        max_ack_pending=max_ack_pending,
    )


def ingest_work(schedule: tuple[float, ...] = SEED_RETRY_SCHEDULE) -> WorkSpec:
    """Uploads to ingest: same retry schedule, DLQ ``DLQ_DATASET_INGEST``."""
    return work_spec(
        DATASET_INGEST_STREAM,
        DATASET_INGEST_SUBJECTS,
        DATASET_INGEST_CONSUMER,
        ack_wait=schedule[0] if schedule else 30.0,
        backoff=schedule,
        max_deliver=len(schedule) + 1,
    )


async def declare_all(
    js: JetStreamContext, transforms: WorkSpec, ingest: WorkSpec, *, replicas: int | None = None
) -> None:
    """Declare work streams, the events stream, KV buckets and the uploads store.

    ``replicas`` (``NATS_STREAM_REPLICAS``) applies to every declaration on ``js``;
    ``None`` keeps the replicas existing streams have. DATASET_EVENTS is the shared
    definition in :mod:`neuralbridge.core.streams`.
    """
    if replicas is not None:
        use_replicas(js, replicas)
    await declare_work(js, transforms)
    await declare_work(js, ingest)
    await declare_stream(js, DATASET_EVENTS)
    await declare_kv(js, KVSpec(bucket=TRANSFORMS_KV, history=1))
    await declare_kv(js, KVSpec(bucket=UPLOADS_KV, history=1, ttl=30 * 86_400.0))
    await declare_object_store(js, UPLOADS_OBJECT_STORE)
