"""Bring an existing stream or consumer to its declared config, one logged field at a time.

A declaration is a set of stream fields (:data:`STREAM_FIELDS` of a declared
:class:`~nats.js.api.StreamConfig`, or a mapping for KV buckets and object
stores); a field left ``None`` keeps whatever the server has. For an existing stream, each declared
field that differs is applied by one update built from the server's own config
(so fields nobody declared — placement, metadata, an operator's description —
survive), and each change is logged as ``stream_reconciled`` with the stream,
field, old and new value. Nothing is ever deleted. Two changes that would lose
or strand messages are refused with a ``stream_change_refused`` line and the
current value kept: a different retention policy, and subjects that drop one the
stream has now. A change the server refuses (storage) is a
:class:`~neuralbridge.core.errors.TopologyError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import structlog
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NotFoundError

from neuralbridge.core.errors import TopologyError

__all__ = [
    "call",
    "ensure_consumer",
    "ensure_stream",
    "patiently",
    "reconcile_stream",
    "wait_for_replicas",
]

log = structlog.get_logger()

T = TypeVar("T")

#: The fields of a declared stream config that are reconciled.
STREAM_FIELDS = (
    "subjects", "retention", "storage", "num_replicas", "duplicate_window", "max_age", "max_bytes",
)  # fmt: skip
#: How long a JetStream API that times out (leaders being elected) is asked again.
PATIENCE_SECONDS = 30.0
_CONSUMER_FIELDS = ("ack_wait", "max_deliver", "backoff", "max_ack_pending", "max_waiting")


async def ensure_stream(js: JetStreamContext, config: api.StreamConfig) -> None:
    """Create the stream, or reconcile the existing one with ``config``."""
    assert config.name is not None
    name = config.name
    try:
        info = await patiently(lambda: js.stream_info(name), f"stream {name}")
    except NotFoundError:
        await call(js.add_stream(config), f"create stream {config.name}")
        log.info("stream_created", stream=config.name, replicas=config.num_replicas or 1)
        return
    await reconcile_stream(js, info.config, {f: getattr(config, f) for f in STREAM_FIELDS})


async def reconcile_stream(
    js: JetStreamContext, current: api.StreamConfig, wanted: Mapping[str, Any]
) -> dict[str, Any]:
    """Update ``current`` to the declared fields in ``wanted``; return what was applied."""
    name = current.name
    changes: dict[str, Any] = {}
    for field, want in wanted.items():
        have = getattr(current, field)
        if want is None or _same(have, want):
            continue
        reason = _refusal(field, have, want)
        if reason:
            log.error(
                "stream_change_refused", stream=name, field=field,
                old=_shown(have), new=_shown(want), reason=reason,
            )  # fmt: skip
            continue
        changes[field] = want
    if changes:
        await call(
            js.update_stream(dataclasses.replace(current, **changes)), f"update stream {name}"
        )
        for field, want in changes.items():
            log.info(
                "stream_reconciled", stream=name, field=field,
                old=_shown(getattr(current, field, None)), new=_shown(want),
            )  # fmt: skip
        if "num_replicas" in changes and name is not None:
            await wait_for_replicas(js, name)
    return changes


async def wait_for_replicas(
    js: JetStreamContext, stream: str, replicas: int | None = None, timeout: float = 15.0
) -> bool:
    """Wait until ``stream`` has a leader (and, given ``replicas``, that many current peers).

    Publishing to a stream whose raft group is electing a leader times out, so
    start-up waits for a leader after changing replicas. New peers catch up in
    the background (a work-queue stream with consumers takes about 10 s to
    scale); callers that need them all pass ``replicas``. Returns whether that
    was seen within ``timeout``; when not, ``stream_replicas_pending`` is logged.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        with contextlib.suppress(APIError, NatsTimeoutError):
            cluster = (await js.stream_info(stream)).cluster
            if cluster is None:
                return True
            peers = cluster.replicas or []
            complete = replicas is None or (
                len(peers) + 1 == replicas and all(p.current for p in peers)
            )
            if cluster.leader and complete:
                return True
        await asyncio.sleep(0.05)
    log.warning("stream_replicas_pending", stream=stream, replicas=replicas, waited=timeout)
    return False


async def ensure_consumer(js: JetStreamContext, stream: str, config: api.ConsumerConfig) -> None:
    """Create the durable consumer, or update it when a declared field differs."""
    durable = config.durable_name
    assert durable is not None
    try:
        info = await patiently(lambda: js.consumer_info(stream, durable), f"consumer {durable}")
    except NotFoundError:
        await call(js.add_consumer(stream, config), f"create consumer {config.durable_name}")
        log.info("consumer_created", stream=stream, consumer=config.durable_name)
        return
    fields: tuple[str, ...] = _CONSUMER_FIELDS
    if config.backoff:
        # The server replaces ack_wait by backoff[0]; compare the schedule instead.
        fields = tuple(f for f in fields if f != "ack_wait")
    changed = [f for f in fields if not _same(getattr(info.config, f, None), getattr(config, f))]
    changed = [f for f in changed if getattr(config, f) is not None]
    if changed:
        await call(js.add_consumer(stream, config), f"update consumer {config.durable_name}")
        log.info("consumer_updated", stream=stream, consumer=config.durable_name, changed=changed)


async def patiently(
    ask: Callable[[], Awaitable[T]], what: str, *, within: float = PATIENCE_SECONDS
) -> T:
    """Ask the JetStream API again while it times out, for up to ``within`` seconds.

    Right after a cluster node dies the API may not answer until new stream and
    consumer leaders are elected; that is a wait, not a configuration error.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    pause = 0.2
    while True:
        try:
            return await ask()
        except NatsTimeoutError:
            if loop.time() + pause > deadline:
                raise
            log.info("jetstream_api_waiting", what=what, retry_in=pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)


async def call(awaitable: Awaitable[T], what: str) -> T:
    """Await a JetStream API call; its refusal becomes a :class:`TopologyError`."""
    try:
        return await awaitable
    except APIError as exc:
        raise TopologyError(f"cannot {what}: {exc.description} (code {exc.err_code})") from None


def _refusal(field: str, have: object, want: object) -> str | None:
    if field == "retention" and have is not None:
        return "a new retention policy would delete or strand stored messages; migrate by hand"
    if field == "subjects" and isinstance(have, list) and isinstance(want, list):
        dropped = sorted(set(have) - set(want))
        if dropped:
            return f"dropping subjects {dropped} would strand the messages stored on them"
    return None


def _same(have: object, want: object) -> bool:
    if isinstance(want, bool) or isinstance(have, bool):
        return bool(have) == bool(want)
    if isinstance(want, float | int) and isinstance(have, float | int):
        return abs(float(have) - float(want)) <= 1e-6
    if isinstance(want, list) and isinstance(have, list):
        return _normalized(have) == _normalized(want)
    return have == want


def _normalized(values: list[object]) -> list[object]:
    return [round(float(v), 6) if isinstance(v, float | int) else v for v in values]


def _shown(value: object) -> object:
    return value.value if isinstance(value, enum.Enum) else value
