"""Seed 000's CacheCleanupWorker: the hourly ``cache_cleanup`` job.

The response cache belongs to the proxy pipeline (its schema, its memory), so
the job asks it over NATS (``neuralbridge.messages.cache``):

1. **Persistent cache** — a request on ``proxy.cache.cleanup``, answered by ONE
   pipeline instance (queue group): it deletes the rows whose ``expires_at`` has
   passed and reports how many and the bytes of their JSON. No instance
   subscribed, no answer within ``CACHE_CLEANUP_TIMEOUT_SECONDS``, or an
   instance reporting a database error → the run fails with that reason and,
   being a cleanup job, is retried after ``CLEANUP_RETRY_SECONDS`` (seed 000:
   always retry cleanup jobs).
2. **Memory cache** — a broadcast on ``proxy.cache.purge`` that EVERY instance
   answers after dropping the expired entries of its LRU; the job collects the
   replies for ``CACHE_CLEANUP_BROADCAST_WINDOW_SECONDS``.

Results carry seed 000's telemetry fields for the memory layer
(``memory_freed``, ``size_before``, ``size_after``, summed over the instances
that answered), ``entries_purged``, the persistent layer's ``entries_deleted``
and ``bytes_freed``, ``instances`` (how many answered the broadcast), each
instance's report, and ``duration_ms``. Sizes are bytes of the entries' JSON.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import structlog
from nats.aio.msg import Msg

from neuralbridge.clients import RemoteError, ServiceUnavailableError, ask
from neuralbridge.core.errors import PayloadError
from neuralbridge.core.schemas import decode, encode
from neuralbridge.core.subjects import PROXY_CACHE_CLEANUP_SUBJECT, PROXY_CACHE_PURGE_SUBJECT
from neuralbridge.messages.cache import (
    CacheCleanupRequest,
    MemoryPurgeReply,
    PersistentCleanupReply,
)
from neuralbridge.trainer import metrics as m
from neuralbridge.trainer.errors import TrainerError
from neuralbridge.trainer.runs import RunContext

__all__ = ["CacheCleanupError", "run_cache_cleanup"]

log = structlog.get_logger()


class CacheCleanupError(TrainerError):
    """The persistent cache could not be cleaned (the run fails and is retried)."""


async def run_cache_cleanup(run: RunContext) -> dict[str, Any]:
    """The ``cache_cleanup`` job (see the module docstring)."""
    started = time.perf_counter()
    request = CacheCleanupRequest(run_id=run.run_id)
    log.info("cache_cleanup_started")
    persistent = await _clean_persistent(run, request)
    await run.progress(50.0, "persistent_cache")
    purges = await _purge_memory(run, request)
    await run.progress(95.0, "memory_cache")
    results = _results(persistent, purges)
    results["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
    _observe(persistent, purges)
    log.info("cache_memory_purged", entries_purged=results["entries_purged"],
             instances=results["instances"])  # fmt: skip
    log.info("cache_cleanup_freed", memory_freed=results["memory_freed"],
             bytes_freed=persistent.bytes_freed,
             entries_deleted=persistent.entries_deleted)  # fmt: skip
    log.info("cache_cleanup_completed", duration_ms=results["duration_ms"])
    return results


async def _clean_persistent(
    run: RunContext, request: CacheCleanupRequest
) -> PersistentCleanupReply:
    """Ask one pipeline instance to delete the expired rows; raise unless it did."""
    timeout = run.settings.cache_cleanup_timeout_seconds
    subject = PROXY_CACHE_CLEANUP_SUBJECT
    try:
        reply = await ask(run.bus, subject, request, PersistentCleanupReply, timeout=timeout,
                          service="proxy-pipeline instance")  # fmt: skip
    except ServiceUnavailableError as exc:
        if exc.timed_out:
            raise CacheCleanupError(
                f"no proxy-pipeline instance answered {subject} within {timeout:g}s: "
                "expired persistent cache entries may not have been deleted"
            ) from None
        raise CacheCleanupError(
            f"no proxy-pipeline instance is subscribed to {subject}: "
            "expired persistent cache entries were not deleted (is the proxy pipeline running?)"
        ) from None
    except RemoteError as exc:
        raise CacheCleanupError(f"the proxy pipeline refused {subject}: {exc}") from None
    if reply.error is not None:
        raise CacheCleanupError(
            f"proxy-pipeline instance {reply.instance} could not delete expired persistent "
            f"cache entries: {reply.error}"
        )
    return reply


async def _purge_memory(run: RunContext, request: CacheCleanupRequest) -> list[MemoryPurgeReply]:
    """Broadcast the memory purge; every reply received within the window, one per instance."""
    nc = run.bus.nc
    replies: dict[str, MemoryPurgeReply] = {}

    async def on_reply(msg: Msg) -> None:
        try:
            reply = decode(msg.data, MemoryPurgeReply)
        except PayloadError as exc:
            log.warning("cache_purge_reply_rejected", error=str(exc))
            return
        replies[reply.instance] = reply

    inbox = nc.new_inbox()
    sub = await run.bus.subscribe(inbox, cb=on_reply)
    try:
        await nc.publish(PROXY_CACHE_PURGE_SUBJECT, encode(request), reply=inbox)
        await asyncio.sleep(run.settings.cache_cleanup_broadcast_window_seconds)
    finally:
        await sub.unsubscribe()
    return [replies[name] for name in sorted(replies)]


def _results(persistent: PersistentCleanupReply, purges: list[MemoryPurgeReply]) -> dict[str, Any]:
    reports = [msgspec.structs.asdict(p) for p in purges]
    for report in reports:
        report.pop("schema_version", None)
    return {
        "entries_deleted": persistent.entries_deleted,
        "bytes_freed": persistent.bytes_freed,
        "persistent_instance": persistent.instance,
        "entries_purged": sum(p.entries_purged for p in purges),
        "memory_freed": sum(p.memory_freed for p in purges),
        "size_before": sum(p.size_before for p in purges),
        "size_after": sum(p.size_after for p in purges),
        "instances": len(purges),
        "instance_reports": reports,
    }


def _observe(persistent: PersistentCleanupReply, purges: list[MemoryPurgeReply]) -> None:
    m.CACHE_CLEANUP_ENTRIES.labels("persistent").inc(persistent.entries_deleted)
    m.CACHE_CLEANUP_BYTES.labels("persistent").inc(persistent.bytes_freed)
    m.CACHE_CLEANUP_ENTRIES.labels("memory").inc(sum(p.entries_purged for p in purges))
    m.CACHE_CLEANUP_BYTES.labels("memory").inc(sum(p.memory_freed for p in purges))
    m.CACHE_CLEANUP_INSTANCES.set(len(purges))
