"""The dataset-transform worker: documents → chunks → embeddings → Qdrant.

Consumes ``DATASET_TRANSFORMS`` (durable consumer ``worker-datasets``, seed
004's retry schedule, DLQ ``DLQ_DATASET_TRANSFORMS`` with inspection consumer
``worker-datasets-dlq``) and ``DATASET_INGEST`` (uploaded files → dataset items
and chunks). Progress lives in PostgreSQL (schema ``dataset_transform``), live
state in KV, events on ``dataset.events.>``.
"""

from neuralbridge.dataset_transform.main import SERVICE
from neuralbridge.dataset_transform.settings import DatasetTransformSettings
from neuralbridge.dataset_transform.topology import (
    SEED_RETRY_SCHEDULE,
    ingest_work,
    transforms_work,
)

__all__ = [
    "SEED_RETRY_SCHEDULE",
    "SERVICE",
    "DatasetTransformSettings",
    "ingest_work",
    "transforms_work",
]
