"""Service heartbeats: each replica says it is alive, in a KV bucket with a TTL.

Every few seconds a replica puts a
:class:`~neuralbridge.messages.monitoring.Heartbeat` (service, replica id,
start time, version, its readiness summary) under ``<service>.<replica>`` in
:data:`~neuralbridge.messages.monitoring.HEARTBEATS_KV`. The bucket's TTL
forgets a replica that stopped; one that stops cleanly deletes its key. The
gateway reads the bucket for ``/api/proxy/health``. A failed beat is logged
and retried on the next tick: heartbeats never stop a service.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import structlog

from neuralbridge.core.schemas import encode
from neuralbridge.core.service import Deps
from neuralbridge.core.topology import KVSpec, declare_kv
from neuralbridge.messages.monitoring import (
    HEARTBEAT_TTL_SECONDS,
    HEARTBEATS_KV,
    Heartbeat,
    heartbeat_key,
)

__all__ = ["HEARTBEATS", "HEARTBEAT_SECONDS", "start_heartbeat"]

log = structlog.get_logger()

#: Seconds between two heartbeats of one replica (well inside the bucket's TTL).
HEARTBEAT_SECONDS = 5.0
#: The bucket every service declares (the same settings everywhere).
HEARTBEATS = KVSpec(bucket=HEARTBEATS_KV, ttl=HEARTBEAT_TTL_SECONDS, storage="memory")
_READINESS_TIMEOUT = 2.0
_running: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks


def _version() -> str:
    try:
        return version("neuralbridge")
    except PackageNotFoundError:
        return "unknown"


def start_heartbeat(
    deps: Deps[Any], stop: asyncio.Event, *, every: float = HEARTBEAT_SECONDS
) -> str:
    """Beat for ``deps.name`` until ``stop`` is set; return this replica's id.

    Args:
        deps: The service's dependencies (its name, bus and readiness checks).
        stop: Set when the service stops; the replica's key is then deleted.
        every: Seconds between heartbeats.
    """
    replica = uuid.uuid4().hex[:12]
    task = asyncio.create_task(_beat(deps, stop, replica, every))
    _running.add(task)
    task.add_done_callback(_running.discard)
    return replica


async def _beat(deps: Deps[Any], stop: asyncio.Event, replica: str, every: float) -> None:
    started_at = time.time()
    key = heartbeat_key(deps.name, replica)
    declared = False
    while not stop.is_set():
        try:
            if not declared:
                await declare_kv(deps.bus.js, HEARTBEATS)
                declared = True
            await _put(deps, key, replica, started_at)
        except Exception as exc:  # noqa: BLE001 - the next tick tries again
            log.warning("heartbeat_failed", service=deps.name, error_class=type(exc).__name__)
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            continue
    try:
        kv = await deps.bus.js.key_value(HEARTBEATS_KV)
        await asyncio.wait_for(kv.delete(key), _READINESS_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - the TTL forgets the key anyway
        log.info("heartbeat_not_withdrawn", service=deps.name, error_class=type(exc).__name__)


async def _put(deps: Deps[Any], key: str, replica: str, started_at: float) -> None:
    try:
        checks = await asyncio.wait_for(deps.health.readiness(), _READINESS_TIMEOUT)
    except TimeoutError:
        checks = {"readiness": f"checks took over {_READINESS_TIMEOUT} s"}
    failing = {name: reason for name, reason in checks.items() if reason != "ok"}
    beat = Heartbeat(
        service=deps.name, replica=replica, started_at=started_at, sent_at=time.time(),
        version=_version(), ready=not failing, checks=failing,
    )  # fmt: skip
    kv = await deps.bus.js.key_value(HEARTBEATS_KV)
    await kv.put(key, encode(beat))
