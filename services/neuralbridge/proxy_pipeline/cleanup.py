"""The pipeline's side of the trainer's ``cache_cleanup`` job (seed 000's CacheCleanupWorker).

Two subscriptions per instance through the shared responder (see
``neuralbridge.messages.cache``):

* ``proxy.cache.cleanup`` in queue group ``proxy-pipeline``: one instance per
  request deletes the expired rows of the persistent cache (one
  ``DELETE … RETURNING`` that also sums the bytes of their JSON) and answers
  :class:`PersistentCleanupReply`; a database error is answered too, with
  ``error`` set, so the job fails at once with the reason instead of timing out.
* ``proxy.cache.purge``, no queue group: every instance drops the expired
  entries of its memory LRU and answers :class:`MemoryPurgeReply`.

A request that does not decode is answered with an ``ErrorReply`` naming the
field, so the trainer's run fails at once with the reason.
"""

from __future__ import annotations

import os
import socket
import uuid

import structlog

from neuralbridge.core.bus import Bus, BusSubscription
from neuralbridge.core.observability.logs import scrub
from neuralbridge.core.responder import serve
from neuralbridge.core.subjects import (
    PROXY_CACHE_CLEANUP_QUEUE,
    PROXY_CACHE_CLEANUP_SUBJECT,
    PROXY_CACHE_PURGE_SUBJECT,
)
from neuralbridge.messages.cache import (
    CacheCleanupRequest,
    MemoryPurgeReply,
    PersistentCleanupReply,
)
from neuralbridge.proxy_pipeline.cache import ResponseCache

__all__ = ["instance_name", "serve_cleanup"]

log = structlog.get_logger()


def instance_name() -> str:
    """``<host>:<pid>:<random>``: names this pipeline instance in cleanup replies."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def serve_cleanup(
    bus: Bus, cache: ResponseCache, *, instance: str | None = None
) -> list[BusSubscription]:
    """Answer the trainer's cleanup requests; unsubscribe the returned subscriptions to stop."""
    name = instance or instance_name()

    async def on_cleanup(request: CacheCleanupRequest) -> PersistentCleanupReply:
        try:
            entries, freed = await cache.delete_expired_rows()
        except Exception as exc:  # noqa: BLE001 - the trainer gets the reason and retries
            log.warning("cache_cleanup_failed", run_id=request.run_id,
                        error_class=type(exc).__name__)  # fmt: skip
            error = scrub(f"{type(exc).__name__}: {exc}")
            return PersistentCleanupReply(instance=name, error=error)
        log.info("cache_cleanup_persistent", run_id=request.run_id, entries_deleted=entries,
                 bytes_freed=freed)  # fmt: skip
        return PersistentCleanupReply(instance=name, entries_deleted=entries, bytes_freed=freed)

    async def on_purge(request: CacheCleanupRequest) -> MemoryPurgeReply:
        purge = cache.purge_memory()
        log.info("cache_memory_purged", run_id=request.run_id, entries_purged=purge.entries_purged,
                 size_before=purge.size_before, size_after=purge.size_after)  # fmt: skip
        return MemoryPurgeReply(
            instance=name,
            entries_purged=purge.entries_purged,
            size_before=purge.size_before,
            size_after=purge.size_after,
            memory_freed=purge.size_before - purge.size_after,
        )

    return [
        await serve(
            bus, PROXY_CACHE_CLEANUP_SUBJECT, CacheCleanupRequest, on_cleanup,
            queue=PROXY_CACHE_CLEANUP_QUEUE,
        ),
        await serve(bus, PROXY_CACHE_PURGE_SUBJECT, CacheCleanupRequest, on_purge),
    ]  # fmt: skip
