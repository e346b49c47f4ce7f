"""Cache cleanup: what the trainer asks of the proxy pipeline's response cache, and the answers.

Seed 000's CacheCleanupWorker clears two layers. The proxy pipeline owns both,
so the trainer's ``cache_cleanup`` job asks over core NATS request/reply:

* ``proxy.cache.cleanup`` ← :class:`CacheCleanupRequest`: ONE pipeline instance
  (queue group) deletes the expired rows of the persistent cache and answers
  :class:`PersistentCleanupReply` (rows deleted and the bytes of their JSON).
* ``proxy.cache.purge`` ← :class:`CacheCleanupRequest`: EVERY instance (plain
  subscription) drops the expired entries of its in-memory LRU and answers
  :class:`MemoryPurgeReply` with the seed's telemetry fields (``size_before``,
  ``size_after``, ``memory_freed``, in bytes of the entries' JSON).

A reply whose ``error`` is set means the instance tried and failed; nothing in
it is a secret (the error class and message of a database error).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from neuralbridge.core.schemas import Message

__all__ = ["CacheCleanupRequest", "MemoryPurgeReply", "PersistentCleanupReply"]

Count = Annotated[int, msgspec.Meta(ge=0)]


class CacheCleanupRequest(Message, frozen=True, kw_only=True):
    """Clean up now, on behalf of trainer run ``run_id`` (for the responder's log)."""

    run_id: str


class PersistentCleanupReply(Message, frozen=True, kw_only=True):
    """What one instance deleted from the persistent cache.

    Attributes:
        instance: The answering pipeline instance.
        entries_deleted: Rows whose ``expires_at`` had passed.
        bytes_freed: Sum of ``octet_length(answer::text)`` of those rows.
        error: Set when the deletion failed (then nothing was deleted).
    """

    instance: str
    entries_deleted: Count = 0
    bytes_freed: Count = 0
    error: str | None = None


class MemoryPurgeReply(Message, frozen=True, kw_only=True):
    """What one instance purged from its in-memory LRU (seed 000's telemetry fields).

    Attributes:
        instance: The answering pipeline instance.
        entries_purged: Expired entries dropped.
        size_before: JSON bytes of the entries held before the purge.
        size_after: JSON bytes of the entries held after it.
        memory_freed: ``size_before - size_after``.
    """

    instance: str
    entries_purged: Count
    size_before: Count
    size_after: Count
    memory_freed: Count
