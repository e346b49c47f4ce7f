"""Stream names, subjects and consumer names: the bus contract, in one place.

Other services publish to these; changing one is a breaking change.
"""

from __future__ import annotations

__all__ = [
    "DATASET_TRANSFORMS_CONSUMER",
    "DATASET_TRANSFORMS_DLQ_CONSUMER",
    "DATASET_TRANSFORMS_STREAM",
    "DATASET_TRANSFORMS_SUBJECTS",
]

#: Work published by other services; the bare subject must work (seed 004).
DATASET_TRANSFORMS_STREAM = "DATASET_TRANSFORMS"
DATASET_TRANSFORMS_SUBJECTS = ("DATASET_TRANSFORMS", "DATASET_TRANSFORMS.>")
DATASET_TRANSFORMS_CONSUMER = "worker-datasets"
DATASET_TRANSFORMS_DLQ_CONSUMER = "worker-datasets-dlq"
