"""The embedding cache: vectors by (embedder identity, sha256 of the text).

Re-running an unchanged dataset reads every vector from here (zero embedder
calls), and vectors are written as soon as a batch is embedded, so a crash
costs at most the batches that were being embedded at that moment. Vectors are
stored as packed float32, the precision Qdrant keeps anyway.
"""

from __future__ import annotations

import array
from collections.abc import Iterable
from typing import Any

__all__ = ["cached_vectors", "store_vectors"]


async def cached_vectors(conn: Any, identity: str, shas: Iterable[str]) -> dict[str, list[float]]:
    """Vectors already computed by this embedder for these texts."""
    rows = await conn.fetch(
        "SELECT text_sha256, vector FROM embedding_cache"
        " WHERE embedder_identity = $1 AND text_sha256 = ANY($2::text[])",
        identity,
        list(set(shas)),
    )
    return {r["text_sha256"]: _unpack(r["vector"]) for r in rows}


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
