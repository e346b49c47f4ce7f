"""Retrieval: embed the redacted query and search ``RAG_COLLECTION``.

The query embedder must be the one that embedded the collection (by default
both are the local all-MiniLM-L6-v2). Hits below ``RAG_SCORE_THRESHOLD`` are
dropped; at most ``RAG_TOP_K`` are kept. A payload is read the way the
dataset-transform worker writes it (``text``, ``source_file``, ``chunk_index``).
When the collection has an active query adapter (:mod:`.adapters`), the query
vector is adapted before the search; every source names its collection and
point id, so the RAG training can read the chunk's vector back.
"""

from __future__ import annotations

import time

from qdrant_client import AsyncQdrantClient

from neuralbridge.embedders import Embedder
from neuralbridge.messages.proxy import SourceRef
from neuralbridge.proxy_pipeline.adapters import QueryAdapters
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
        adapters: QueryAdapters | None = None,
    ) -> None:
        self._embedder, self._qdrant, self._adapters = embedder, qdrant, adapters
        self._collection, self._top_k, self._threshold = collection, top_k, score_threshold
        self._checked: tuple[bool, float] | None = None

    @property
    def knowledge_tag(self) -> str:
        """What besides the collection decides retrieval: the active query adapter.

        Part of the cache key, so answers retrieved before an adapter was
        activated (or rolled back) are not served after it.
        """
        version = None if self._adapters is None else self._adapters.version
        return "" if version is None else f"|rag-adapter-v{version}"

    async def search(self, query: str) -> list[SourceRef]:
        """The best passages for ``query`` (redacted text only), best first.

        While the collection does not exist (nothing ingested yet) the query is
        not embedded at all: no passages, no embedder call.
        """
        if not await self._collection_exists():
            return []
        vectors = await self._embedder.embed([query], kind="query")
        vector = vectors[0] if self._adapters is None else self._adapters.apply(vectors[0])
        hits = await search_points(
            self._qdrant,
            self._collection,
            vector,
            limit=self._top_k,
            score_threshold=self._threshold,
        )
        return [_source(hit, self._collection) for hit in hits if hit.payload.get("text")]

    async def _collection_exists(self) -> bool:
        """Whether the collection exists: asked again after 30 s (2 s while missing)."""
        now = time.monotonic()
        if self._checked is not None:
            exists, until = self._checked
            if now < until:
                return exists
        try:
            exists = await self._qdrant.collection_exists(self._collection)
        except Exception:  # noqa: BLE001 - let the search itself report Qdrant's error
            return True
        self._checked = (exists, now + (_EXISTING_TTL if exists else _MISSING_TTL))
        return exists


#: Seconds a collection's existence (or absence) is trusted before asking again.
_EXISTING_TTL = 30.0
_MISSING_TTL = 2.0


def _source(hit: SearchHit, collection: str) -> SourceRef:
    payload = hit.payload
    document = payload.get("source_file") or payload.get("title") or payload.get("dataset") or ""
    return SourceRef(
        document=str(document),
        chunk_index=int(payload.get("chunk_index") or 0),
        score=round(hit.score, 4),
        text=str(payload["text"]),
        collection=collection,
        point_id=hit.id,
    )
