"""Streams, consumers, DLQs and KV buckets, declared in code and idempotently.

A :class:`WorkSpec` is one kind of work: its stream (WorkQueue retention), its
durable pull consumer with a bounded ``max_deliver`` and a backoff schedule, and
its dead-letter stream ``DLQ_<STREAM>`` (Limits retention, so viewers work) with
an inspection consumer. :func:`declare_work` creates what is missing, updates
what changed (logging the difference) and leaves the rest alone, so running a
service twice — or two replicas at once — never breaks or duplicates anything.
Existing streams, buckets and object stores are reconciled with the declared
config (:mod:`neuralbridge.core.reconcile`): replicas and limits follow the
declaration, each change logged; nothing is deleted; a change that would lose
messages is refused with a log line; a change the server refuses (storage) is a
:class:`TopologyError`.

Replicas: a spec's ``replicas`` of ``None`` means "the replicas set for this
connection" (:func:`use_replicas`, which each service's ``declare_all`` calls
with ``NATS_STREAM_REPLICAS``), so a runner re-declaring its stream or a bucket
opened later never undoes what start-up declared. With no setting at all a new
stream gets one replica and an existing one keeps its own.
"""

from __future__ import annotations

import weakref
from typing import Annotated, Literal

import msgspec
import structlog
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from neuralbridge.core.errors import TopologyError
from neuralbridge.core.reconcile import call, ensure_consumer, ensure_stream, reconcile_stream

__all__ = [
    "KVSpec",
    "StreamSpec",
    "WorkSpec",
    "declare_kv",
    "declare_object_store",
    "declare_stream",
    "declare_work",
    "use_replicas",
    "work_spec",
]

log = structlog.get_logger()

DAY = 86_400.0
#: The replicas a stream may have: JetStream allows 1 to 5.
Replicas = Annotated[int, msgspec.Meta(ge=1, le=5)]

_REPLICAS: weakref.WeakKeyDictionary[JetStreamContext, int] = weakref.WeakKeyDictionary()


def use_replicas(js: JetStreamContext, replicas: int) -> None:
    """Declare every later stream, bucket and object store on ``js`` with ``replicas``.

    Raises:
        TopologyError: ``replicas`` is not a whole number from 1 to 5.
    """
    if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= 5:
        raise TopologyError(f"stream replicas must be a whole number from 1 to 5, not {replicas!r}")
    _REPLICAS[js] = replicas


def _replicas(js: JetStreamContext, declared: int | None) -> int | None:
    return declared if declared is not None else _REPLICAS.get(js)


class WorkSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One kind of work: stream, consumer and DLQ.

    ``max_deliver`` counts every delivery, the first included; ``backoff[n-1]``
    is the wait before delivery ``n + 1``. The server-side consumer is created
    with ``max_deliver + 1`` so that a job whose last delivery was lost (a
    killed worker) comes back once more and the runner routes it to the DLQ
    instead of leaving it stranded in the stream.
    """

    stream: str
    subjects: tuple[str, ...]
    consumer: str
    dlq_stream: str
    dlq_subject: str
    dlq_consumer: str
    ack_wait: float = 30.0
    max_deliver: int = 6
    backoff: tuple[float, ...] = ()
    max_ack_pending: int = 1000
    duplicate_window: float = 120.0
    max_age: float = 0.0
    dlq_max_age: float = 30 * DAY
    storage: Literal["file", "memory"] = "file"
    max_bytes: int = -1
    replicas: Replicas | None = None

    @property
    def redelivery_timeout(self) -> float:
        """The shortest time the server waits for an ack before redelivering."""
        return min((self.ack_wait, *self.backoff))

    def delay_after(self, delivery: int) -> float:
        """Seconds to wait before redelivering a job that failed on ``delivery``."""
        if not self.backoff:
            return 0.0
        return self.backoff[min(delivery, len(self.backoff)) - 1]


def work_spec(
    stream: str,
    subjects: tuple[str, ...],
    consumer: str,
    *,
    dlq_consumer: str | None = None,
    **options: object,
) -> WorkSpec:
    """Build a :class:`WorkSpec` with the DLQ named by the house convention.

    The DLQ stream is ``DLQ_<stream>`` on subject ``DLQ.<stream>``; its
    inspection consumer defaults to ``<consumer>-dlq``.
    """
    spec = WorkSpec(
        stream=stream,
        subjects=subjects,
        consumer=consumer,
        dlq_stream=f"DLQ_{stream}",
        dlq_subject=f"DLQ.{stream}",
        dlq_consumer=dlq_consumer or f"{consumer}-dlq",
    )
    return msgspec.structs.replace(spec, **options)


class KVSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A JetStream key-value bucket for live state."""

    bucket: str
    history: int = 1
    ttl: float = 0.0
    storage: Literal["file", "memory"] = "file"
    replicas: Replicas | None = None


async def declare_work(js: JetStreamContext, spec: WorkSpec) -> None:
    """Create or reconcile the work stream, its consumer, the DLQ and its consumer."""
    if spec.backoff and len(spec.backoff) >= spec.max_deliver + 1:
        raise TopologyError(f"{spec.stream}: backoff has more steps than max_deliver allows")
    replicas = _replicas(js, spec.replicas)
    for name, subject_list, retention, max_age in (
        (spec.stream, list(spec.subjects), api.RetentionPolicy.WORK_QUEUE, spec.max_age),
        (spec.dlq_stream, [spec.dlq_subject], api.RetentionPolicy.LIMITS, spec.dlq_max_age),
    ):
        await ensure_stream(
            js,
            api.StreamConfig(
                name=name, subjects=subject_list, retention=retention,
                storage=_storage(spec.storage), duplicate_window=spec.duplicate_window,
                max_age=max_age, max_bytes=spec.max_bytes, num_replicas=replicas,
            ),
        )  # fmt: skip
    await ensure_consumer(
        js,
        spec.stream,
        api.ConsumerConfig(
            durable_name=spec.consumer,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_wait=spec.ack_wait,
            max_deliver=spec.max_deliver + 1,
            backoff=list(spec.backoff) or None,
            max_ack_pending=spec.max_ack_pending,
            max_waiting=512,
        ),
    )
    await ensure_consumer(
        js,
        spec.dlq_stream,
        api.ConsumerConfig(
            durable_name=spec.dlq_consumer,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_wait=30.0,
        ),
    )


class StreamSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A Limits-retention stream with no consumer of its own (events, history)."""

    name: str
    subjects: tuple[str, ...]
    max_age: float = 7 * DAY
    duplicate_window: float = 120.0
    max_bytes: int = -1
    storage: Literal["file", "memory"] = "file"
    replicas: Replicas | None = None


async def declare_stream(js: JetStreamContext, spec: StreamSpec) -> None:
    """Create or reconcile an events stream."""
    await ensure_stream(
        js,
        api.StreamConfig(
            name=spec.name,
            subjects=list(spec.subjects),
            retention=api.RetentionPolicy.LIMITS,
            storage=_storage(spec.storage),
            duplicate_window=spec.duplicate_window,
            max_age=spec.max_age,
            max_bytes=spec.max_bytes,
            num_replicas=_replicas(js, spec.replicas),
        ),
    )


async def declare_object_store(
    js: JetStreamContext, bucket: str, *, replicas: int | None = None
) -> None:
    """Create the object store bucket, or bring its replicas to the declared number."""
    wanted = _replicas(js, replicas)
    try:
        info = await js.stream_info(f"OBJ_{bucket}")
    except NotFoundError:
        config = api.ObjectStoreConfig(bucket=bucket, replicas=wanted or 1)
        await call(js.create_object_store(bucket, config=config), f"create object store {bucket}")
        log.info("object_store_created", bucket=bucket, replicas=wanted or 1)
        return
    await reconcile_stream(js, info.config, {"num_replicas": wanted})


async def declare_kv(js: JetStreamContext, spec: KVSpec) -> None:
    """Create the bucket, or reconcile its replicas, TTL and direct gets.

    Buckets allow direct gets: a read is answered by the stream itself, not queued
    through the JetStream API (a session read on a cached answer's path took ~0.7 ms
    the other way). A bucket made before that is switched on, which changes nothing
    else. A different ``history`` is logged, not applied: lowering it would delete
    revisions.
    """
    replicas = _replicas(js, spec.replicas)
    try:
        info = await js.stream_info(f"KV_{spec.bucket}")
    except NotFoundError:
        config = api.KeyValueConfig(
            bucket=spec.bucket, history=spec.history, ttl=spec.ttl or None,
            storage=_storage(spec.storage), replicas=replicas or 1, direct=True,
        )  # fmt: skip
        await call(js.create_key_value(config), f"create KV bucket {spec.bucket}")
        log.info("kv_bucket_created", bucket=spec.bucket, replicas=replicas or 1)
        return
    if info.config.max_msgs_per_subject != spec.history:
        log.warning(
            "kv_bucket_differs", bucket=spec.bucket,
            history=info.config.max_msgs_per_subject, wanted=spec.history,
        )  # fmt: skip
    wanted = {"num_replicas": replicas, "max_age": spec.ttl, "allow_direct": True}
    await reconcile_stream(js, info.config, wanted)


def _storage(storage: Literal["file", "memory"]) -> api.StorageType:
    return api.StorageType.MEMORY if storage == "memory" else api.StorageType.FILE
