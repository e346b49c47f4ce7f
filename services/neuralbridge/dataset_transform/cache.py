"""The embedding cache: vectors by (embedder identity, sha256 of the text).

Re-running an unchanged dataset reads every vector from here (zero embedder
calls), and vectors are written as soon as a batch is embedded, so a crash
costs at most the batches that were being embedded at that moment. Vectors are
stored as packed float32, the precision Qdrant keeps anyway.

A read marks the rows it found as used, at most once a day per row, and
:func:`evict_unused` deletes the rows unread for ``EMBEDDING_CACHE_TTL_DAYS``
(the worker runs it hourly), so the table holds what recent datasets use.
"""

from __future__ import annotations

import array
from collections.abc import Iterable
from typing import Any

__all__ = ["cached_vectors", "evict_unused", "store_vectors"]

#: Rows deleted per statement by :func:`evict_unused` (short locks, bounded WAL bursts).
EVICT_BATCH = 5000

# The rows found; in the same statement, those last marked used over a day ago are
# marked again. SKIP LOCKED: a row another reader (or an eviction) holds is left to it,
# so concurrent transforms of overlapping texts never wait on each other or deadlock.
_READ_AND_MARK = """
WITH hit AS (
    SELECT text_sha256, vector FROM embedding_cache
    WHERE embedder_identity = $1 AND text_sha256 = ANY($2::text[])
), marked AS (
    UPDATE embedding_cache SET last_used_at = now()
    WHERE ctid IN (
        SELECT ctid FROM embedding_cache
        WHERE embedder_identity = $1 AND text_sha256 = ANY($2::text[])
          AND last_used_at < now() - interval '1 day'
        FOR UPDATE SKIP LOCKED
    )
)
SELECT text_sha256, vector FROM hit
"""

_EVICT = """
DELETE FROM embedding_cache WHERE ctid IN (
    SELECT ctid FROM embedding_cache
    WHERE last_used_at < now() - make_interval(days => $1)
    LIMIT $2 FOR UPDATE SKIP LOCKED
)
"""


async def cached_vectors(conn: Any, identity: str, shas: Iterable[str]) -> dict[str, list[float]]:
    """Vectors already computed by this embedder for these texts (marked used)."""
    rows = await conn.fetch(_READ_AND_MARK, identity, list(set(shas)))
    return {r["text_sha256"]: _unpack(r["vector"]) for r in rows}


async def evict_unused(pool: Any, days: int, *, batch: int = EVICT_BATCH) -> int:
    """Delete the vectors unread for ``days`` days, ``batch`` rows per statement; how many.

    Replicas may run it at once: rows another one is deleting are skipped.
    """
    deleted = 0
    while True:
        status = await pool.execute(_EVICT, days, batch)
        count = int(status.rsplit(" ", 1)[1])
        deleted += count
        if count < batch:
            return deleted


async def store_vectors(conn: Any, identity: str, vectors: dict[str, list[float]]) -> None:
    """Remember vectors (first writer wins), in one statement."""
    await conn.execute(
        "INSERT INTO embedding_cache (embedder_identity, text_sha256, vector)"
        " SELECT $1, sha, vec FROM unnest($2::text[], $3::bytea[]) AS t(sha, vec)"
        " ON CONFLICT DO NOTHING",
        identity,
        list(vectors),
        [_pack(vec) for vec in vectors.values()],
    )


def _pack(vector: list[float]) -> bytes:
    return array.array("f", vector).tobytes()


def _unpack(data: bytes) -> list[float]:
    values = array.array("f")
    values.frombytes(data)
    return values.tolist()
