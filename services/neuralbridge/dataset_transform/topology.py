"""The dataset-transform work stream as DESIGN.md and seed 004 define it."""

from __future__ import annotations

from neuralbridge.core.subjects import (
    DATASET_TRANSFORMS_CONSUMER,
    DATASET_TRANSFORMS_DLQ_CONSUMER,
    DATASET_TRANSFORMS_STREAM,
    DATASET_TRANSFORMS_SUBJECTS,
)
from neuralbridge.core.topology import WorkSpec, work_spec

__all__ = ["SEED_RETRY_SCHEDULE", "transforms_work"]

#: Seed 004's retry logic: 30 s, 2 min, 5 min, 15 min, 1 h, then the DLQ.
SEED_RETRY_SCHEDULE: tuple[float, ...] = (30.0, 120.0, 300.0, 900.0, 3600.0)


def transforms_work(schedule: tuple[float, ...] = SEED_RETRY_SCHEDULE) -> WorkSpec:
    """The stream, consumer and DLQ; ``len(schedule) + 1`` deliveries in all."""
    return work_spec(
        DATASET_TRANSFORMS_STREAM,
        DATASET_TRANSFORMS_SUBJECTS,
        DATASET_TRANSFORMS_CONSUMER,
        dlq_consumer=DATASET_TRANSFORMS_DLQ_CONSUMER,
        ack_wait=schedule[0] if schedule else 30.0,
        backoff=schedule,
        max_deliver=len(schedule) + 1,
    )
