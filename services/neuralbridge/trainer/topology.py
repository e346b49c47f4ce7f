"""The trainer's bus contract: every queue's work stream, the event streams it
ingests (QUERY_LOGS, FEEDBACK) with its durable consumers, the AGENT_EXECUTIONS work
stream, the stream of its run events (TRAINER_EVENTS), its KV buckets and object
stores.

QUERY_LOGS and FEEDBACK are shared with the proxy pipeline and the gateway: all
of them declare the one definition in :mod:`neuralbridge.core.streams`.
"""

from __future__ import annotations

from nats.js import JetStreamContext, api

from neuralbridge.core.streams import (
    AB_EXPERIMENTS,
    ANSWER_MEMORY,
    FEEDBACK,
    QUERY_LOGS,
    RAG_ADAPTERS,
)
from neuralbridge.core.subjects import (
    AGENT_EXECUTIONS_CONSUMER,
    AGENT_EXECUTIONS_STREAM,
    AGENT_EXECUTIONS_SUBJECTS,
    AGENT_UPLOADS_OBJECT_STORE,
    ANSWER_MEMORY_OBJECT_STORE,
    FEEDBACK_STREAM,
    JOB_RESULTS_KV,
    QUERY_LOGS_STREAM,
    RAG_ADAPTERS_OBJECT_STORE,
    TRAINER_CANCELS_KV,
    TRAINER_EVENTS_STREAM,
    TRAINER_EVENTS_SUBJECTS,
    TRAINER_FEEDBACK_CONSUMER,
    TRAINER_QUERY_LOGS_CONSUMER,
    TRAINER_RUNS_KV,
)
from neuralbridge.core.topology import (
    DAY,
    KVSpec,
    StreamSpec,
    WorkSpec,
    declare_kv,
    declare_object_store,
    declare_stream,
    declare_work,
    use_replicas,
    work_spec,
)

__all__ = ["AGENT_EXECUTIONS_WORK", "EVENT_FEEDS", "EventFeedSpec", "declare_all"]

#: Events the trainer could never store, kept for inspection and replay.
EVENT_DLQ_MAX_AGE = 30 * DAY
#: Run events are for watching runs live and shortly after; KV keeps the last state longer.
TRAINER_EVENTS_MAX_AGE = 7 * DAY
#: Agent executions reported by applications (prompt_optimization's input): a work stream
#: with a DLQ, consumed by the shared JobRunner (its runner declares it). Stored executions
#: live in the trainer's table; the stream only carries them there.
AGENT_EXECUTIONS_WORK: WorkSpec = work_spec(
    AGENT_EXECUTIONS_STREAM, AGENT_EXECUTIONS_SUBJECTS, AGENT_EXECUTIONS_CONSUMER,
    ack_wait=30.0, backoff=(5.0, 30.0, 120.0), max_deliver=4, duplicate_window=600.0,
)  # fmt: skip


class EventFeedSpec:
    """A durable consumer of the trainer on a Limits-retention events stream.

    Events that can never be stored (undecodable, or refused by PostgreSQL as
    data) are dead-lettered to ``DLQ_<stream>`` on ``DLQ.<stream>`` in the
    standard DLQ format, then terminated: never retried forever.
    """

    __slots__ = ("consumer", "dlq_stream", "dlq_subject", "stream")

    def __init__(self, stream: str, consumer: str) -> None:
        self.stream, self.consumer = stream, consumer
        self.dlq_stream, self.dlq_subject = f"DLQ_{stream}", f"DLQ.{stream}"


QUERY_LOGS_FEED = EventFeedSpec(QUERY_LOGS_STREAM, TRAINER_QUERY_LOGS_CONSUMER)
FEEDBACK_FEED = EventFeedSpec(FEEDBACK_STREAM, TRAINER_FEEDBACK_CONSUMER)
EVENT_FEEDS = (QUERY_LOGS_FEED, FEEDBACK_FEED)


async def declare_all(js: JetStreamContext, *, replicas: int | None = None) -> None:
    """Declare streams, consumers, buckets and object stores.

    The queue streams are declared by their runners (and the scheduler).
    ``replicas`` (``NATS_STREAM_REPLICAS``) applies to every declaration on ``js``;
    ``None`` keeps the replicas existing streams have.
    """
    if replicas is not None:
        use_replicas(js, replicas)
    await declare_stream(js, QUERY_LOGS)
    await declare_stream(js, FEEDBACK)
    for feed in EVENT_FEEDS:
        await declare_feed_consumer(js, feed)
        await declare_stream(
            js,
            StreamSpec(
                name=feed.dlq_stream, subjects=(feed.dlq_subject,), max_age=EVENT_DLQ_MAX_AGE
            ),
        )
    await declare_stream(
        js,
        StreamSpec(
            name=TRAINER_EVENTS_STREAM,
            subjects=TRAINER_EVENTS_SUBJECTS,
            max_age=TRAINER_EVENTS_MAX_AGE,
        ),
    )
    await declare_work(js, AGENT_EXECUTIONS_WORK)
    await declare_kv(js, KVSpec(bucket=TRAINER_RUNS_KV, history=1, ttl=30 * DAY))
    await declare_kv(js, KVSpec(bucket=JOB_RESULTS_KV, history=1))
    await declare_kv(js, KVSpec(bucket=TRAINER_CANCELS_KV, history=1, ttl=7 * DAY))
    await declare_object_store(js, AGENT_UPLOADS_OBJECT_STORE)  # nb agents upload
    # Shared with the proxy pipeline (experiments, answer memory, RAG adapters).
    for bucket in (AB_EXPERIMENTS, ANSWER_MEMORY, RAG_ADAPTERS):
        await declare_kv(js, bucket)
    await declare_object_store(js, ANSWER_MEMORY_OBJECT_STORE)
    await declare_object_store(js, RAG_ADAPTERS_OBJECT_STORE)


async def declare_feed_consumer(js: JetStreamContext, feed: EventFeedSpec) -> None:
    """Create (or re-create with the same config) the trainer's durable consumer."""
    await js.add_consumer(
        feed.stream,
        api.ConsumerConfig(
            durable_name=feed.consumer,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_wait=30.0,
            max_ack_pending=1000,
            max_waiting=512,
        ),
    )
