"""Retrieval: embed the redacted query and search ``RAG_COLLECTION``.

The query embedder must be the one that embedded the collection (by default
both are the local all-MiniLM-L6-v2). Hits below ``RAG_SCORE_THRESHOLD`` are
dropped; at most ``RAG_TOP_K`` are kept. A payload is read the way the
dataset-transform worker writes it (``text``, ``source_file``, ``chunk_index``).
"""

from __future__ import annotations

from qdrant_client import AsyncQdrantClient

from neuralbridge.embedders import Embedder
from neuralbridge.messages.proxy import SourceRef
from neuralbridge.vectors import SearchHit, search_points

__all__ = ["Retriever"]


class Retriever:
    """Find the passages a question should be answered from."""

    def __init__(
        self,
        embedder: Embedder,
        qdrant: AsyncQdrantClient,
        *,
        collection: str,
        top_k: int,
        score_threshold: float,
    ) -> None:
        self._embedder, self._qdrant = embedder, qdrant
        self._collection, self._top_k, self._threshold = collection, top_k, score_threshold

    async def search(self, query: str) -> list[SourceRef]:
        """The best passages for ``query`` (redacted text only), best first."""
        vectors = await self._embedder.embed([query], kind="query")
        hits = await search_points(
            self._qdrant,
            self._collection,
            vectors[0],
            limit=self._top_k,
            score_threshold=self._threshold,
        )
        return [_source(hit) for hit in hits if hit.payload.get("text")]


def _source(hit: SearchHit) -> SourceRef:
    payload = hit.payload
    document = payload.get("source_file") or payload.get("title") or payload.get("dataset") or ""
    return SourceRef(
        document=str(document),
        chunk_index=int(payload.get("chunk_index") or 0),
        score=round(hit.score, 4),
        text=str(payload["text"]),
    )
