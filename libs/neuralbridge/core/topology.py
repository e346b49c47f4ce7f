"""Streams, consumers, DLQs and KV buckets, declared in code and idempotently.

A :class:`WorkSpec` is one kind of work: its stream (WorkQueue retention), its
durable pull consumer with a bounded ``max_deliver`` and a backoff schedule, and
its dead-letter stream ``DLQ_<STREAM>`` (Limits retention, so viewers work) with
an inspection consumer. :func:`declare_work` creates what is missing, updates
what changed (logging the difference) and leaves the rest alone, so running a
service twice — or two replicas at once — never breaks or duplicates anything.
A change the server refuses (retention, storage) is a :class:`TopologyError`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Literal, TypeVar

import msgspec
import structlog
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, BucketNotFoundError, NotFoundError

from neuralbridge.core.errors import TopologyError

__all__ = [
    "KVSpec",
    "StreamSpec",
    "WorkSpec",
    "declare_kv",
    "declare_object_store",
    "declare_stream",
    "declare_work",
    "work_spec",
]

log = structlog.get_logger()

T = TypeVar("T")

DAY = 86_400.0


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
    replicas: int = 1

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


async def declare_work(js: JetStreamContext, spec: WorkSpec) -> None:
    """Create or update the work stream, its consumer, the DLQ and its consumer."""
    if spec.backoff and len(spec.backoff) >= spec.max_deliver + 1:
        raise TopologyError(f"{spec.stream}: backoff has more steps than max_deliver allows")
    storage = api.StorageType.MEMORY if spec.storage == "memory" else api.StorageType.FILE
    await _ensure_stream(
        js,
        api.StreamConfig(
            name=spec.stream,
            subjects=list(spec.subjects),
            retention=api.RetentionPolicy.WORK_QUEUE,
            storage=storage,
            duplicate_window=spec.duplicate_window,
            max_age=spec.max_age,
            num_replicas=spec.replicas,
        ),
    )
    await _ensure_stream(
        js,
        api.StreamConfig(
            name=spec.dlq_stream,
            subjects=[spec.dlq_subject],
            retention=api.RetentionPolicy.LIMITS,
            storage=storage,
            duplicate_window=spec.duplicate_window,
            max_age=spec.dlq_max_age,
            num_replicas=spec.replicas,
        ),
    )
    await _ensure_consumer(
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
    await _ensure_consumer(
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
    storage: Literal["file", "memory"] = "file"
    replicas: int = 1


async def declare_stream(js: JetStreamContext, spec: StreamSpec) -> None:
    """Create or update an events stream."""
    await _ensure_stream(
        js,
        api.StreamConfig(
            name=spec.name,
            subjects=list(spec.subjects),
            retention=api.RetentionPolicy.LIMITS,
            storage=api.StorageType.MEMORY if spec.storage == "memory" else api.StorageType.FILE,
            max_age=spec.max_age,
            num_replicas=spec.replicas,
        ),
    )


async def declare_object_store(js: JetStreamContext, bucket: str) -> None:
    """Create the object store bucket if it does not exist."""
    try:
        await js.object_store(bucket)
    except BucketNotFoundError:
        await js.create_object_store(bucket)
        log.info("object_store_created", bucket=bucket)


async def declare_kv(js: JetStreamContext, spec: KVSpec) -> None:
    """Create the bucket if it does not exist (its settings are checked, not clobbered).

    Buckets allow direct gets: a read is answered by the stream itself, not queued
    through the JetStream API (a session read on a cached answer's path took ~0.7 ms
    the other way). A bucket made before that is switched on, which changes nothing
    else; the handles bound afterwards use it.
    """
    try:
        kv = await js.key_value(spec.bucket)
    except BucketNotFoundError:
        storage = api.StorageType.MEMORY if spec.storage == "memory" else api.StorageType.FILE
        await js.create_key_value(
            bucket=spec.bucket, history=spec.history, ttl=spec.ttl or None, storage=storage,
            direct=True,
        )  # fmt: skip
        log.info("kv_bucket_created", bucket=spec.bucket)
        return
    status = await kv.status()
    if status.history != spec.history:
        log.warning(
            "kv_bucket_differs", bucket=spec.bucket, history=status.history, wanted=spec.history
        )
    config = status.stream_info.config
    if not config.allow_direct:
        config.allow_direct = True
        await js.update_stream(config)
        log.info("kv_bucket_direct_get_enabled", bucket=spec.bucket)


_STREAM_FIELDS = ("subjects", "retention", "storage", "duplicate_window", "max_age")
_CONSUMER_FIELDS = ("ack_wait", "max_deliver", "backoff", "max_ack_pending", "max_waiting")


async def _ensure_stream(js: JetStreamContext, config: api.StreamConfig) -> None:
    assert config.name is not None
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        await _call(js.add_stream(config), f"create stream {config.name}")
        log.info("stream_created", stream=config.name)
        return
    changed = _differences(info.config, config, _STREAM_FIELDS)
    if changed:
        await _call(js.update_stream(config), f"update stream {config.name}")
        log.info("stream_updated", stream=config.name, changed=changed)


async def _ensure_consumer(js: JetStreamContext, stream: str, config: api.ConsumerConfig) -> None:
    assert config.durable_name is not None
    try:
        info = await js.consumer_info(stream, config.durable_name)
    except NotFoundError:
        await _call(js.add_consumer(stream, config), f"create consumer {config.durable_name}")
        log.info("consumer_created", stream=stream, consumer=config.durable_name)
        return
    fields: tuple[str, ...] = _CONSUMER_FIELDS
    if config.backoff:
        # The server replaces ack_wait by backoff[0]; compare the schedule instead.
        fields = tuple(f for f in fields if f != "ack_wait")
    changed = _differences(info.config, config, fields)
    if changed:
        await _call(js.add_consumer(stream, config), f"update consumer {config.durable_name}")
        log.info("consumer_updated", stream=stream, consumer=config.durable_name, changed=changed)


def _differences(current: object, wanted: object, fields: tuple[str, ...]) -> list[str]:
    changed = []
    for name in fields:
        have, want = getattr(current, name, None), getattr(wanted, name, None)
        if want is None:
            continue
        if isinstance(want, float | int) and isinstance(have, float | int):
            if abs(float(have) - float(want)) > 1e-6:
                changed.append(name)
        elif isinstance(want, list) and isinstance(have, list):
            if _normalized(have) != _normalized(want):
                changed.append(name)
        elif have != want:
            changed.append(name)
    return changed


def _normalized(values: list[object]) -> list[object]:
    return [round(float(v), 6) if isinstance(v, float | int) else v for v in values]


async def _call(awaitable: Awaitable[T], what: str) -> T:
    try:
        return await awaitable
    except APIError as exc:
        raise TopologyError(f"cannot {what}: {exc.description} (code {exc.err_code})") from None
