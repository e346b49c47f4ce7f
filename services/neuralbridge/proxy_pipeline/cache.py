"""The response cache: an in-memory LRU with TTL over a PostgreSQL table.

The key is the sha256 of the normalized, already-redacted query (case-folded,
whitespace collapsed), the answering profile (provider, model, base URL), the
temperature and the knowledge version (``KNOWLEDGE_VERSION`` or the collection
name), plus the conversation the answer depends on: the one the client sends
(OpenAI's ``messages``, screened), else the session history the pipeline keeps.
So a follow-up such as "why?" is only answered from the cache within the same
conversation (never with an answer shaped by another session's history), while
first questions, which have none, share entries; a question repeated within a
conversation keys on the conversation as it was when first asked, so it finds its
first answer (:func:`conversation_for_key`). Lookups try
memory first (a hit never touches PostgreSQL), then the table (a hit is
promoted to memory for the rest of its lifetime), unless the filter of known
keys (:mod:`.keyfilter`) rules the key out. Only answers at or above
``CONFIDENCE_THRESHOLD`` are stored; ``CACHE_ENABLED=false`` bypasses both
layers. The pipeline remembers a new answer in memory at once and persists it
with the request's after-reply batch (:meth:`ResponseCache.persist`), off the
answer's path.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg
import msgspec

from neuralbridge.llm import ChatMessage, LLMProfile
from neuralbridge.messages.proxy import GuardrailFinding, SourceRef
from neuralbridge.proxy_pipeline import metrics as m
from neuralbridge.proxy_pipeline import store
from neuralbridge.proxy_pipeline.keyfilter import KnownKeys

__all__ = [
    "CachedAnswer",
    "MemoryPurge",
    "ResponseCache",
    "cache_key",
    "conversation_for_key",
    "normalize_query",
]

_KEY_VERSION = 1


class CachedAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """What a cache hit replays (every text already redacted)."""

    answer: str
    sources: list[SourceRef] = msgspec.field(default_factory=list)
    provider: str
    model: str
    confidence: float
    fallback_used: bool = False
    fallback_reason: str | None = None
    output_findings: list[GuardrailFinding] = msgspec.field(default_factory=list)


def normalize_query(query: str) -> str:
    """Case-folded, with whitespace runs collapsed to one space."""
    return " ".join(query.casefold().split())


def conversation_for_key(question: str, history: Sequence[ChatMessage]) -> Sequence[ChatMessage]:
    """The part of ``history`` that goes into ``question``'s cache key.

    All of it, unless the conversation already asked this question: then what came
    before it was first asked. So repeating a question in a conversation finds its
    first answer, while the same words in another conversation (a follow-up that
    means something else there) do not.
    """
    asked = normalize_query(question)
    for i, message in enumerate(history):
        if message.role == "user" and normalize_query(message.content) == asked:
            return history[:i]
    return history


def cache_key(
    query: str,
    profile: LLMProfile,
    temperature: float | None,
    namespace: str,
    conversation: Sequence[ChatMessage] = (),
) -> str:
    """The sha256 naming one normalized request (see the module docstring).

    ``conversation``: the earlier messages the answer depends on, redacted (the
    client's, screened, or the session's); none: the key of a question on its own,
    unchanged by this argument's existence.
    """
    parts: list[object] = [
        _KEY_VERSION,
        normalize_query(query),
        profile.provider,
        profile.model,
        profile.base_url,
        profile.temperature if temperature is None else temperature,
        namespace,
    ]
    if conversation:
        parts.append([[m.role, normalize_query(m.content)] for m in conversation])
    return hashlib.sha256(msgspec.json.encode(parts)).hexdigest()


@dataclass(frozen=True, slots=True)
class MemoryPurge:
    """What :meth:`ResponseCache.purge_memory` dropped; sizes are the entries' JSON bytes."""

    entries_purged: int
    size_before: int
    size_after: int


class ResponseCache:
    """Two-layer cache; see the module docstring.

    Args:
        pool: The service's PostgreSQL pool.
        max_size: Entries kept in memory (``CACHE_MAX_SIZE``), least recently used evicted.
        ttl: Seconds an entry lives (``CACHE_TTL_SECONDS``).
        enabled: ``CACHE_ENABLED``.
        clock: Monotonic seconds for the memory layer's expiry (tests move it by hand).
        known: The keys that may have a row (:mod:`.keyfilter`): a key it rules out
            is a miss without a PostgreSQL lookup. ``None``: every miss asks.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_size: int,
        ttl: float,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
        known: KnownKeys | None = None,
    ) -> None:
        self._pool = pool
        self._known = known
        self._clock = clock
        self._max_size = max_size
        self._ttl = ttl
        self.enabled = enabled
        self._memory: OrderedDict[str, tuple[float, CachedAnswer]] = OrderedDict()
        self._decoder = msgspec.json.Decoder(CachedAnswer)

    async def get(self, key: str) -> CachedAnswer | None:
        """The live entry for ``key``, from memory or PostgreSQL, or ``None``."""
        found = self.get_remembered(key)
        return found if found is not None else await self.get_persisted(key)

    def get_remembered(self, key: str) -> CachedAnswer | None:
        """The live entry for ``key`` in the memory layer, or ``None``."""
        if not self.enabled:
            return None
        held = self._memory.get(key)
        if held is not None:
            expires, answer = held
            if expires > self._clock():
                self._memory.move_to_end(key)
                m.CACHE_LOOKUPS.labels("memory", "hit").inc()
                return answer
            del self._memory[key]
        m.CACHE_LOOKUPS.labels("memory", "miss").inc()
        return None

    async def get_persisted(self, key: str) -> CachedAnswer | None:
        """The live entry for ``key`` in PostgreSQL (then remembered), or ``None``."""
        if not self.enabled:
            return None
        if self._known is not None and not self._known.may_have(key):
            m.CACHE_LOOKUPS.labels("postgres", "skipped").inc()
            return None
        now = self._clock()
        async with self._pool.acquire() as conn:
            row = await store.get_entry(conn, key)
        if row is None:
            m.CACHE_LOOKUPS.labels("postgres", "miss").inc()
            return None
        data, remaining = row
        answer = self._decoder.decode(data)
        self._remember(key, answer, now + remaining)
        m.CACHE_LOOKUPS.labels("postgres", "hit").inc()
        return answer

    async def put(self, key: str, answer: CachedAnswer) -> None:
        """Store ``answer`` in both layers for ``ttl`` seconds."""
        self.remember(key, answer)
        await self.persist([(key, answer)])

    def remember(self, key: str, answer: CachedAnswer) -> None:
        """Store ``answer`` in the memory layer for ``ttl`` seconds."""
        if self.enabled:
            self._remember(key, answer, self._clock() + self._ttl)

    async def persist(self, entries: Sequence[tuple[str, CachedAnswer]]) -> None:
        """Store entries in the PostgreSQL layer for ``ttl`` seconds (the last of a key wins)."""
        if not self.enabled or not entries:
            return
        encoded = {key: msgspec.json.encode(answer) for key, answer in entries}
        if self._known is not None:
            self._known.add(encoded)
        async with self._pool.acquire() as conn:
            await store.put_entries(conn, encoded, self._ttl)

    async def sweep(self) -> int:
        """Drop expired entries from both layers; return how many rows were deleted."""
        self.purge_memory()
        async with self._pool.acquire() as conn:
            return await store.delete_expired(conn)

    def purge_memory(self) -> MemoryPurge:
        """Drop the expired entries of the memory layer (seed 000's force purge)."""
        now = self._clock()
        before = sum(_size(answer) for _, answer in self._memory.values())
        freed = 0
        expired = [k for k, (expires, _) in self._memory.items() if expires <= now]
        for key in expired:
            freed += _size(self._memory.pop(key)[1])
        m.CACHE_ENTRIES.set(len(self._memory))
        return MemoryPurge(
            entries_purged=len(expired), size_before=before, size_after=before - freed
        )

    async def delete_expired_rows(self) -> tuple[int, int]:
        """Delete the expired rows of the persistent layer; return (rows, bytes of their JSON)."""
        async with self._pool.acquire() as conn:
            return await store.delete_expired_sized(conn)

    def _remember(self, key: str, answer: CachedAnswer, expires: float) -> None:
        self._memory[key] = (expires, answer)
        self._memory.move_to_end(key)
        while len(self._memory) > self._max_size:
            self._memory.popitem(last=False)
        m.CACHE_ENTRIES.set(len(self._memory))


def _size(answer: CachedAnswer) -> int:
    """Bytes of an entry's JSON: the measure of the memory layer's size."""
    return len(msgspec.json.encode(answer))
