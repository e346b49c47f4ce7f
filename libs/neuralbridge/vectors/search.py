"""Nearest-neighbour search on a collection, as plain hits with their payload.

Used by the proxy pipeline's retrieval stage. A collection that does not exist
(nothing ingested yet) answers no hits rather than failing: a proxy without a
knowledge base still answers, ungrounded.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qdrant_client import AsyncQdrantClient

from neuralbridge.vectors import metrics as m
from neuralbridge.vectors.qdrant import VectorStoreError

__all__ = ["SearchHit", "search_points"]


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One point close to the query vector.

    Attributes:
        id: The point id.
        score: The similarity (higher is closer for Cosine and Dot).
        payload: The point's payload (``text``, ``source_file``, ``chunk_index``...).
    """

    id: str
    score: float
    payload: dict[str, Any]


async def search_points(
    client: AsyncQdrantClient,
    collection: str,
    vector: Sequence[float],
    *,
    limit: int,
    score_threshold: float | None = None,
) -> list[SearchHit]:
    """The ``limit`` points closest to ``vector`` scoring at least ``score_threshold``.

    Args:
        client: A Qdrant client (server or local mode).
        collection: Collection (or alias) to search.
        vector: The query vector, of the collection's size.
        limit: Most hits returned.
        score_threshold: Drop hits scoring below it; ``None`` keeps all.

    Returns:
        Hits, best first; empty when the collection does not exist.

    Raises:
        VectorStoreError: Qdrant failed (connection, server error, wrong vector size).
    """
    started = time.perf_counter()
    try:
        if not await client.collection_exists(collection):
            return []
        response = await client.query_points(
            collection,
            query=list(vector),
            limit=limit,
            score_threshold=score_threshold,
            with_payload=True,
        )
    except Exception as exc:
        m.QDRANT_ERRORS.labels(type(exc).__name__).inc()
        raise VectorStoreError(f"Qdrant search in {collection!r} failed: {exc}") from exc
    m.QDRANT_SEARCH_DURATION.observe(time.perf_counter() - started)
    return [
        SearchHit(id=str(point.id), score=float(point.score), payload=dict(point.payload or {}))
        for point in response.points
    ]
