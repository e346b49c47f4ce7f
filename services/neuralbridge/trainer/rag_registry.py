"""Which adapter is active: the promotion rule, the version registry, the pointer the proxy follows.

The rule (:func:`judge`), on the run's held-out queries:

* a candidate is **activated** only when its MRR@10 beats the base embedding's
  by at least ``min_improvement`` and its recall@5 is not lower, and — when a
  version is active — it is not worse than that version on either metric and
  better on one (the active version is re-measured on the same held-out set);
* otherwise it is **rejected**, and the reason names the numbers;
* when the active version itself is now worse than the base embedding and the
  candidate is not activated, it is **rolled back**: the newest earlier
  version (``superseded``) that still beats the base is restored, or none.

The weights go to object store ``rag_adapters`` (``<collection>/<run id>.npy``,
so a retried run overwrites its own object), the versions to table
``rag_adapters``; KV ``rag_adapters`` always mirrors the table's active version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import asyncpg
import structlog
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError

from neuralbridge.core.schemas import encode
from neuralbridge.core.subjects import RAG_ADAPTERS_KV, RAG_ADAPTERS_OBJECT_STORE, rag_adapter_key
from neuralbridge.core.topology import KVSpec, declare_kv, declare_object_store
from neuralbridge.learning.adapter import Matrix, RetrievalMetrics, decode_adapter, encode_adapter
from neuralbridge.messages.training import RagAdapterPointer
from neuralbridge.trainer import rag_store
from neuralbridge.trainer.rag_store import AdapterRow, NewAdapter

__all__ = [
    "Registered",
    "Verdict",
    "declare_adapter_buckets",
    "judge",
    "load_weights",
    "publish_active",
    "register",
    "upload_weights",
]

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a candidate and the active version."""

    activate: bool
    reason: str
    roll_back_active: bool = False


def _fmt(m: RetrievalMetrics) -> str:
    return f"MRR@10 {m.mrr_at_10:.4f}, recall@5 {m.recall_at_5:.4f}"


def _worse(a: RetrievalMetrics, b: RetrievalMetrics) -> bool:
    """``a`` is worse than ``b`` on either metric."""
    return a.mrr_at_10 < b.mrr_at_10 or a.recall_at_5 < b.recall_at_5


def judge(
    base: RetrievalMetrics,
    candidate: RetrievalMetrics,
    active: tuple[int, RetrievalMetrics] | None,
    *,
    min_improvement: float,
) -> Verdict:
    """Apply the promotion rule (module docstring) to held-out metrics."""
    active_regressed = active is not None and _worse(active[1], base)
    if candidate.mrr_at_10 < base.mrr_at_10 + min_improvement or candidate.recall_at_5 < (
        base.recall_at_5
    ):
        reason = (
            f"no held-out improvement over the base embedding: candidate {_fmt(candidate)}, "
            f"base {_fmt(base)} (MRR@10 must gain at least {min_improvement:g})"
        )
        return Verdict(activate=False, reason=reason, roll_back_active=active_regressed)
    if active is not None:
        version, metrics = active
        better = (candidate.mrr_at_10, candidate.recall_at_5) != (
            metrics.mrr_at_10, metrics.recall_at_5,
        )  # fmt: skip
        if _worse(candidate, metrics) or not better:
            reason = (
                f"regresses against active v{version} on the held-out queries: candidate "
                f"{_fmt(candidate)}, active {_fmt(metrics)}; v{version} stays active"
            )
            return Verdict(activate=False, reason=reason, roll_back_active=active_regressed)
    reason = f"held-out {_fmt(candidate)} against base {_fmt(base)}"
    if active is not None:
        reason += f" and active v{active[0]} {_fmt(active[1])}"
    return Verdict(activate=True, reason=reason)


async def declare_adapter_buckets(js: JetStreamContext) -> None:
    """The KV pointer bucket and the weights object store."""
    await declare_kv(js, KVSpec(bucket=RAG_ADAPTERS_KV, history=5))
    await declare_object_store(js, RAG_ADAPTERS_OBJECT_STORE)


async def upload_weights(js: JetStreamContext, name: str, weights: Matrix) -> str:
    """Store the weights as object ``name``; return their SHA-256."""
    data = encode_adapter(weights)
    store = await js.object_store(RAG_ADAPTERS_OBJECT_STORE)
    await store.put(name, data)
    return hashlib.sha256(data).hexdigest()


async def load_weights(js: JetStreamContext, row: AdapterRow) -> Matrix:
    """The weights of a registered version (checked against its SHA-256)."""
    store = await js.object_store(RAG_ADAPTERS_OBJECT_STORE)
    data = (await store.get(row.object_name)).data or b""
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise ValueError(f"adapter v{row.version} of {row.collection!r}: object is corrupt")
    return decode_adapter(data, row.dimensions)


@dataclass(frozen=True, slots=True)
class Registered:
    """The registered candidate's version and what happened to the others."""

    version: int
    restored: int | None = None
    rolled_back: int | None = None


async def register(
    pool: asyncpg.Pool,
    new: NewAdapter,
    verdict: Verdict,
    active: AdapterRow | None,
    restore: AdapterRow | None,
) -> Registered:
    """Record the candidate and the status changes the verdict implies, in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        version = await rag_store.next_version(conn, new.collection)
        rolled_back = None
        if active is not None and verdict.activate:
            await rag_store.set_status(conn, new.collection, active.version, "superseded",
                                       f"superseded by v{version}")  # fmt: skip
        elif active is not None and verdict.roll_back_active:
            rolled_back = active.version
            why = f"rolled back: worse than the base embedding on run {new.run_id}'s held-out set"
            await rag_store.set_status(conn, new.collection, active.version, "rolled_back", why)
        status = "active" if verdict.activate else "rejected"
        await rag_store.insert_adapter(conn, new, version, status, verdict.reason)
        if rolled_back is not None and restore is not None:
            why = f"restored after v{rolled_back} was rolled back"
            await rag_store.set_status(conn, new.collection, restore.version, "active", why)
    return Registered(
        version=version,
        rolled_back=rolled_back,
        restored=restore.version if rolled_back is not None and restore is not None else None,
    )


async def publish_active(js: JetStreamContext, pool: asyncpg.Pool, collection: str) -> int | None:
    """Make KV ``rag_adapters`` point at the table's active version (or at none)."""
    kv = await js.key_value(RAG_ADAPTERS_KV)
    key = rag_adapter_key(collection)
    row = await rag_store.active_adapter(pool, collection)
    if row is None:
        try:
            await kv.get(key)
        except KeyNotFoundError:
            return None
        await kv.delete(key)
        log.info("rag_adapter_pointer_cleared", collection=collection)
        return None
    pointer = RagAdapterPointer(
        collection=collection, version=row.version, object_name=row.object_name,
        dimensions=row.dimensions, sha256=row.sha256,
        activated_at=row.activated_at.isoformat() if row.activated_at else "",
    )  # fmt: skip
    await kv.put(key, encode(pointer))
    return row.version
