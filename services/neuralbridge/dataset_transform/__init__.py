"""The dataset-transform worker: documents → chunks → embeddings → Qdrant.

Today the service declares its contract on the bus — the ``DATASET_TRANSFORMS``
stream (subject ``DATASET_TRANSFORMS``), the durable consumer
``worker-datasets`` with the seed's retry schedule, and
``DLQ_DATASET_TRANSFORMS`` with its inspection consumer ``worker-datasets-dlq``
— and reports healthy. The transform handler arrives with its own issue.
"""

from neuralbridge.dataset_transform.main import SERVICE
from neuralbridge.dataset_transform.topology import SEED_RETRY_SCHEDULE, transforms_work

__all__ = ["SEED_RETRY_SCHEDULE", "SERVICE", "transforms_work"]
