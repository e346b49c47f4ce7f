"""The active answer memory, followed live: the student consulted before API B (issue 6).

The trainer's ``distillation`` job promotes an answer memory only when it
agreed with API B on held-out queries, and publishes it as an
:class:`AnswerMemoryPointer` in KV ``answer_memory`` (key ``active``) with the
:class:`~neuralbridge.learning.memory.MemoryArtifact` in object store
``answer_memory``. Each replica declares both buckets (idempotent, whichever
service starts first creates them), watches the key, loads a new version (its
SHA-256 checked, cached by version) and drops the memory when the key is
deleted. A pointer that cannot be loaded is logged and the previous memory
stays in use.

:meth:`AnswerMemory.lookup` takes the redacted question; it answers only in the
mode the memory was evaluated in: ``lexical`` memories compare token sets,
``embedding`` memories need this replica's query embedder to be the one the
memory was built with (same ``cache_identity``), otherwise they are not
consulted. A lookup never fails the request: any error is a miss.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import OrderedDict

import structlog
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue
from prometheus_client import Counter

from neuralbridge.core import kvwatch
from neuralbridge.core.schemas import decode
from neuralbridge.core.subjects import (
    ANSWER_MEMORY_KEY,
    ANSWER_MEMORY_KV,
    ANSWER_MEMORY_OBJECT_STORE,
)
from neuralbridge.core.topology import KVSpec, declare_kv, declare_object_store
from neuralbridge.embedders import Embedder
from neuralbridge.learning.memory import (
    MemoryArtifact,
    MemoryHit,
    MemoryIndex,
    normalize_text,
)
from neuralbridge.messages.training import AnswerMemoryPointer

__all__ = ["HITS", "AnswerMemory"]

log = structlog.get_logger()

HITS = Counter(
    "nb_answer_memory_hits_total",
    "Fallbacks answered from the answer memory instead of API B.",
)

#: Memory versions kept loaded (the active one and the one it replaced).
_CACHED_VERSIONS = 2


class AnswerMemory:
    """The active answer memory, kept current by a KV watch.

    Build with :meth:`start`; :meth:`close` stops the watch.

    Args:
        js: The service's JetStream context.
        embedder: The pipeline's query embedder (``embedding`` memories need it).
        embedder_identity: That embedder's ``cache_identity``.
    """

    def __init__(
        self, js: JetStreamContext, embedder: Embedder | None, embedder_identity: str | None
    ) -> None:
        self._js, self._embedder, self._identity = js, embedder, embedder_identity
        self._cache: OrderedDict[int, MemoryIndex] = OrderedDict()
        self._active: tuple[AnswerMemoryPointer, MemoryIndex] | None = None
        self._task: asyncio.Task[None] | None = None
        self._warned: int | None = None

    @classmethod
    async def start(
        cls,
        js: JetStreamContext,
        *,
        embedder: Embedder | None = None,
        embedder_identity: str | None = None,
    ) -> AnswerMemory:
        """Declare the buckets, load the active memory and follow its changes."""
        await declare_kv(js, KVSpec(bucket=ANSWER_MEMORY_KV, history=5))
        await declare_object_store(js, ANSWER_MEMORY_OBJECT_STORE)
        memory = cls(js, embedder, embedder_identity)
        kv = await js.key_value(ANSWER_MEMORY_KV)
        with contextlib.suppress(KeyNotFoundError):
            await memory._update(await kv.get(ANSWER_MEMORY_KEY))
        memory._task = kvwatch.follow(kv, memory._update, key=ANSWER_MEMORY_KEY,
                                      name="answer-memory-watch")  # fmt: skip
        return memory

    async def close(self) -> None:
        """Stop following the KV key."""
        await kvwatch.stop(self._task)
        self._task = None

    @property
    def version(self) -> int | None:
        """The version consulted now (``None``: no memory)."""
        return None if self._active is None else self._active[0].version

    async def lookup(self, question: str) -> MemoryHit | None:
        """The remembered answer for ``question`` (redacted text), or ``None``."""
        if self._active is None:
            return None
        pointer, index = self._active
        query = normalize_text(question)
        if not query:
            return None
        try:
            vector = await self._vector(pointer, query)
            if index.artifact.similarity == "embedding" and vector is None:
                return None
            return index.lookup(query, vector)
        except Exception as exc:  # noqa: BLE001 - a failed lookup is a miss, API B answers
            log.warning("answer_memory_lookup_failed", version=pointer.version, error=str(exc))
            return None

    async def _vector(self, pointer: AnswerMemoryPointer, query: str) -> list[float] | None:
        if pointer.similarity != "embedding":
            return None
        if self._embedder is None or pointer.embedder != self._identity:
            if self._warned != pointer.version:
                self._warned = pointer.version
                log.warning("answer_memory_embedder_mismatch", version=pointer.version,
                            memory=pointer.embedder, pipeline=self._identity)  # fmt: skip
            return None
        vectors = await self._embedder.embed([query], kind="query")
        return vectors[0]

    async def _update(self, entry: KeyValue.Entry) -> None:
        if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
            if self._active is not None:
                log.info("answer_memory_cleared", version=self._active[0].version)
            self._active = None
            return
        try:
            pointer = decode(entry.value, AnswerMemoryPointer)
            index = await self._index(pointer)
        except Exception as exc:  # noqa: BLE001 - keep serving with the previous memory
            log.warning("answer_memory_load_failed", error=str(exc))
            return
        self._active = (pointer, index)
        log.info("answer_memory_applied", version=pointer.version, entries=pointer.entries)

    async def _index(self, pointer: AnswerMemoryPointer) -> MemoryIndex:
        cached = self._cache.get(pointer.version)
        if cached is not None:
            self._cache.move_to_end(pointer.version)
            return cached
        store = await self._js.object_store(ANSWER_MEMORY_OBJECT_STORE)
        data = (await store.get(pointer.object_name)).data or b""
        digest = hashlib.sha256(data).hexdigest()
        if digest != pointer.sha256:
            raise ValueError(
                f"answer memory {pointer.object_name!r} has SHA-256 {digest}, the pointer says "
                f"{pointer.sha256}"
            )
        index = MemoryIndex(decode(data, MemoryArtifact))
        self._cache[pointer.version] = index
        while len(self._cache) > _CACHED_VERSIONS:
            self._cache.popitem(last=False)
        return index
