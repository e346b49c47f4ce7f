"""Streams and buckets more than one service declares: one definition each.

Every service that declares one of these uses the object here, never a copy
of its settings, so two services starting in any order declare the same config
and reconciliation (:mod:`neuralbridge.core.reconcile`) never flips a stream
back and forth between them. Replicas come from the connection
(:func:`~neuralbridge.core.topology.use_replicas`), not from these definitions.
"""

from __future__ import annotations

from neuralbridge.core.subjects import (
    AB_EXPERIMENTS_KV,
    ANSWER_MEMORY_KV,
    DATASET_EVENTS_STREAM,
    DATASET_EVENTS_SUBJECTS,
    FEEDBACK_STREAM,
    FEEDBACK_SUBJECTS,
    QUERY_LOGS_STREAM,
    QUERY_LOGS_SUBJECTS,
    RAG_ADAPTERS_KV,
)
from neuralbridge.core.topology import DAY, KVSpec, StreamSpec

__all__ = [
    "AB_EXPERIMENTS",
    "ANSWER_MEMORY",
    "DATASET_EVENTS",
    "FEEDBACK",
    "QUERY_LOGS",
    "RAG_ADAPTERS",
]

#: Dataset lifecycle events (ingest, transform progress): a week is enough to watch them.
DATASET_EVENTS = StreamSpec(
    name=DATASET_EVENTS_STREAM, subjects=DATASET_EVENTS_SUBJECTS, max_age=7 * DAY
)
#: Every answered query, written by the proxy pipeline, read by the gateway and the trainer.
QUERY_LOGS = StreamSpec(name=QUERY_LOGS_STREAM, subjects=QUERY_LOGS_SUBJECTS, max_age=90 * DAY)
#: User feedback, published by the gateway and learned from by the trainer for a year.
FEEDBACK = StreamSpec(name=FEEDBACK_STREAM, subjects=FEEDBACK_SUBJECTS, max_age=365 * DAY)
#: A/B experiments by id (trainer and proxy pipeline).
AB_EXPERIMENTS = KVSpec(bucket=AB_EXPERIMENTS_KV, history=1)
#: The active answer memory (trainer publishes, proxy pipeline reads).
ANSWER_MEMORY = KVSpec(bucket=ANSWER_MEMORY_KV, history=5)
#: Trained RAG adapters (trainer publishes, proxy pipeline reads).
RAG_ADAPTERS = KVSpec(bucket=RAG_ADAPTERS_KV, history=5)
