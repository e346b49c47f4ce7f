"""The active query adapter of the RAG collection, followed live (issue 6, RAG training).

The trainer's ``rag_training`` job publishes the active adapter of a
collection as a :class:`RagAdapterPointer` in KV ``rag_adapters`` (key: the
collection) and its weights in object store ``rag_adapters``. Each replica
watches its collection's key: a new version is loaded from the object store
(its SHA-256 checked, cached by version), a deleted key means "no adapter".
:meth:`QueryAdapters.apply` turns a query vector ``q`` into ``W q / ‖W q‖``
before the Qdrant search; with no adapter (or one of another dimension) the
vector passes unchanged. A pointer that cannot be loaded is logged and the
previous adapter stays in use: retrieval never fails because of an adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import structlog
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from neuralbridge.core import kvwatch
from neuralbridge.core.schemas import decode
from neuralbridge.core.subjects import (
    RAG_ADAPTERS_KV,
    RAG_ADAPTERS_OBJECT_STORE,
    rag_adapter_key,
)
from neuralbridge.core.topology import KVSpec, declare_kv, declare_object_store
from neuralbridge.learning.adapter import Matrix, decode_adapter
from neuralbridge.messages.training import RagAdapterPointer

__all__ = ["QueryAdapters"]

log = structlog.get_logger()

#: Adapter versions kept in memory (the active one and the one it replaced).
_CACHED_VERSIONS = 2


class QueryAdapters:
    """The adapter of one collection, kept current by a KV watch.

    Build with :meth:`start`; :meth:`close` stops the watch.
    """

    def __init__(self, js: JetStreamContext, collection: str) -> None:
        self._js, self._collection = js, collection
        self._key = rag_adapter_key(collection)
        self._cache: OrderedDict[int, Matrix] = OrderedDict()
        self._active: tuple[RagAdapterPointer, Matrix] | None = None
        self._task: asyncio.Task[None] | None = None
        self._warned_dimensions: int | None = None

    @classmethod
    async def start(cls, js: JetStreamContext, collection: str) -> QueryAdapters:
        """Load the current adapter of ``collection`` and follow its changes."""
        await declare_kv(js, KVSpec(bucket=RAG_ADAPTERS_KV, history=5))
        await declare_object_store(js, RAG_ADAPTERS_OBJECT_STORE)
        adapters = cls(js, collection)
        kv = await js.key_value(RAG_ADAPTERS_KV)
        with contextlib.suppress(KeyNotFoundError):
            await adapters._update(await kv.get(adapters._key))
        adapters._task = kvwatch.follow(kv, adapters._update, key=adapters._key,
                                        name="rag-adapter-watch")  # fmt: skip
        return adapters

    async def close(self) -> None:
        """Stop following the KV key."""
        await kvwatch.stop(self._task)
        self._task = None

    @property
    def version(self) -> int | None:
        """The version applied now (``None``: queries pass unchanged)."""
        return None if self._active is None else self._active[0].version

    def apply(self, vector: Sequence[float]) -> list[float]:
        """``W q / ‖W q‖`` with the active adapter, or ``vector`` itself without one."""
        if self._active is None:
            return list(vector)
        pointer, weights = self._active
        if len(vector) != len(weights):
            if self._warned_dimensions != len(vector):
                self._warned_dimensions = len(vector)
                log.warning("rag_adapter_dimension_mismatch", collection=self._collection,
                            version=pointer.version, adapter=len(weights),
                            query=len(vector))  # fmt: skip
            return list(vector)
        adapted = weights @ np.asarray(vector, dtype=np.float64)
        norm = float(np.linalg.norm(adapted))
        if norm == 0.0:
            return list(vector)
        return [float(x) for x in adapted / norm]

    async def _update(self, entry: KeyValue.Entry) -> None:
        if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
            if self._active is not None:
                log.info("rag_adapter_cleared", collection=self._collection,
                         version=self._active[0].version)  # fmt: skip
            self._active = None
            return
        try:
            pointer = decode(entry.value, RagAdapterPointer)
            weights = await self._weights(pointer)
        except Exception as exc:  # noqa: BLE001 - keep serving with the previous adapter
            log.warning("rag_adapter_load_failed", collection=self._collection, error=str(exc))
            return
        self._active = (pointer, weights)
        log.info("rag_adapter_applied", collection=self._collection, version=pointer.version)

    async def _weights(self, pointer: RagAdapterPointer) -> Matrix:
        cached = self._cache.get(pointer.version)
        if cached is not None:
            self._cache.move_to_end(pointer.version)
            return cached
        store = await self._js.object_store(RAG_ADAPTERS_OBJECT_STORE)
        result = await store.get(pointer.object_name)
        data = result.data or b""
        digest = hashlib.sha256(data).hexdigest()
        if digest != pointer.sha256:
            raise ValueError(
                f"adapter {pointer.object_name!r} has SHA-256 {digest}, the pointer says "
                f"{pointer.sha256}"
            )
        weights = decode_adapter(data, pointer.dimensions)
        self._cache[pointer.version] = weights
        while len(self._cache) > _CACHED_VERSIONS:
            self._cache.popitem(last=False)
        return weights
