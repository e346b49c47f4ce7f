"""Where a promoted answer memory lives: object store ``answer_memory`` and its KV pointer.

The artifact (a :class:`~neuralbridge.learning.memory.MemoryArtifact`, JSON) is
stored as ``<run id>.json``, so a retried run overwrites its own object; KV
``answer_memory`` (key ``active``) always mirrors the ``distillation_runs``
table's active row, and is deleted when none is active. The proxy pipeline
declares the same buckets (they are created by whichever starts first).
"""

from __future__ import annotations

import hashlib

import asyncpg
import structlog
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError

from neuralbridge.core.schemas import encode
from neuralbridge.core.subjects import (
    ANSWER_MEMORY_KEY,
    ANSWER_MEMORY_KV,
    ANSWER_MEMORY_OBJECT_STORE,
)
from neuralbridge.core.topology import KVSpec, declare_kv, declare_object_store
from neuralbridge.learning.memory import MemoryArtifact
from neuralbridge.messages.training import AnswerMemoryPointer
from neuralbridge.trainer import distillation_store as store

__all__ = ["declare_memory_buckets", "publish_active", "upload_artifact"]

log = structlog.get_logger()


async def declare_memory_buckets(js: JetStreamContext) -> None:
    """The KV pointer bucket and the artifact object store (idempotent)."""
    await declare_kv(js, KVSpec(bucket=ANSWER_MEMORY_KV, history=5))
    await declare_object_store(js, ANSWER_MEMORY_OBJECT_STORE)


async def upload_artifact(js: JetStreamContext, artifact: MemoryArtifact) -> tuple[str, str]:
    """Store ``artifact``; return its object name and SHA-256."""
    data = encode(artifact)
    name = f"{artifact.run_id}.json"
    obj = await js.object_store(ANSWER_MEMORY_OBJECT_STORE)
    await obj.put(name, data)
    return name, hashlib.sha256(data).hexdigest()


async def publish_active(js: JetStreamContext, pool: asyncpg.Pool) -> int | None:
    """Point KV ``answer_memory`` at the table's active memory (or at none); its version."""
    kv = await js.key_value(ANSWER_MEMORY_KV)
    row = await store.active_memory(pool)
    if row is None:
        try:
            await kv.get(ANSWER_MEMORY_KEY)
        except KeyNotFoundError:
            return None
        await kv.delete(ANSWER_MEMORY_KEY)
        log.info("answer_memory_pointer_cleared")
        return None
    pointer = AnswerMemoryPointer(
        version=row.version, run_id=row.run_id, object_name=row.object_name, sha256=row.sha256,
        entries=row.entries, similarity="embedding" if row.similarity == "embedding" else "lexical",
        embedder=row.embedder, activated_at=row.activated_at.isoformat(),
    )  # fmt: skip
    await kv.put(ANSWER_MEMORY_KEY, encode(pointer))
    return row.version
