"""RAG training data: rated answers → query groups → vectors (seed 001's grouping).

A well-rated answer (score ``>= 4``) makes one positive pair per chunk it cited
(``[source N]`` in the answer; the top passage when it cited none); a poorly
rated one (score ``<= 2``) makes one negative pair per chunk it cited (every
passage it was given when it cited none). Pairs are grouped by query (case and
spacing folded): a chunk that is positive for a query is never also one of its
negatives. Only passages of the trained collection with a Qdrant point id
count; older logs without ids are skipped.

The chunks' vectors are read back from Qdrant (as stored, never re-embedded);
the queries are embedded with the collection's query embedder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from qdrant_client import AsyncQdrantClient

from neuralbridge.embedders import Embedder
from neuralbridge.learning.adapter import Matrix
from neuralbridge.trainer.rag_store import FeedbackRow

__all__ = [
    "ChunkVectors",
    "QueryGroup",
    "embed_queries",
    "fetch_chunk_vectors",
    "group_pairs",
    "query_key",
    "sample_collection",
]

_CITATION = re.compile(r"\[source\s+(\d+)\]", re.IGNORECASE)
_RETRIEVE_BATCH = 256


def query_key(query: str) -> str:
    """The grouping key of a query: case and whitespace folded."""
    return " ".join(query.lower().split())


@dataclass(slots=True)
class QueryGroup:
    """One query's positive and negative chunks (Qdrant point ids)."""

    key: str
    query: str
    positives: set[str] = field(default_factory=set)
    negatives: set[str] = field(default_factory=set)


def _cited(row: FeedbackRow, collection: str, *, all_if_none: bool) -> list[str]:
    sources = row.sources
    numbers = {int(n) for n in _CITATION.findall(row.answer)}
    picked = [sources[n - 1] for n in sorted(numbers) if 1 <= n <= len(sources)]
    if not picked:
        picked = list(sources) if all_if_none else sources[:1]
    return [
        str(s["point_id"])
        for s in picked
        if s.get("point_id") and s.get("collection") == collection
    ]


def group_pairs(
    rows: Iterable[FeedbackRow], collection: str, *, positive: int, negative: int
) -> list[QueryGroup]:
    """Group the rated answers' cited chunks by query, in first-seen order."""
    groups: dict[str, QueryGroup] = {}
    for row in rows:
        if row.score >= positive:
            chunks, is_positive = _cited(row, collection, all_if_none=False), True
        elif row.score <= negative:
            chunks, is_positive = _cited(row, collection, all_if_none=True), False
        else:
            continue
        if not chunks:
            continue
        key = query_key(row.query)
        group = groups.setdefault(key, QueryGroup(key=key, query=row.query))
        (group.positives if is_positive else group.negatives).update(chunks)
    for group in groups.values():
        group.negatives -= group.positives
    return list(groups.values())


@dataclass(slots=True)
class ChunkVectors:
    """Chunk vectors by point id, in a stable row order."""

    ids: list[str] = field(default_factory=list)
    rows: list[list[float]] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def add(self, point_id: str, vector: Sequence[float]) -> None:
        """Keep ``vector`` for ``point_id`` (the first one wins)."""
        if point_id not in self.index:
            self.index[point_id] = len(self.ids)
            self.ids.append(point_id)
            self.rows.append([float(x) for x in vector])

    def matrix(self) -> Matrix:
        """The vectors as an ``m x d`` array."""
        return np.asarray(self.rows, dtype=np.float64)


def _plain_vector(point_id: str, vector: object) -> list[float]:
    if isinstance(vector, list) and all(isinstance(x, float | int) for x in vector):
        return [float(x) for x in vector]
    raise ValueError(
        f"point {point_id} has no single unnamed dense vector; RAG training supports "
        "collections with one unnamed vector (as the dataset-transform worker creates)"
    )


async def fetch_chunk_vectors(
    qdrant: AsyncQdrantClient, collection: str, point_ids: Iterable[str], into: ChunkVectors
) -> None:
    """Read the stored vectors of ``point_ids``; points that no longer exist are skipped."""
    wanted = sorted(set(point_ids) - set(into.index))
    for start in range(0, len(wanted), _RETRIEVE_BATCH):
        batch = wanted[start : start + _RETRIEVE_BATCH]
        points = await qdrant.retrieve(collection, ids=batch, with_vectors=True, with_payload=False)
        for point in sorted(points, key=lambda p: str(p.id)):
            into.add(str(point.id), _plain_vector(str(point.id), point.vector))


async def sample_collection(
    qdrant: AsyncQdrantClient, collection: str, limit: int, into: ChunkVectors
) -> None:
    """Add up to ``limit`` points of the collection (in id order): the evaluation corpus."""
    offset = None
    while len(into.ids) < limit:
        points, offset = await qdrant.scroll(
            collection, limit=min(256, limit - len(into.ids)), offset=offset,
            with_vectors=True, with_payload=False,
        )  # fmt: skip
        for point in points:
            into.add(str(point.id), _plain_vector(str(point.id), point.vector))
        if offset is None:
            return


async def embed_queries(embedder: Embedder, queries: Sequence[str]) -> Matrix:
    """The queries' embeddings, as the proxy pipeline computes them (``kind="query"``)."""
    if not queries:
        return np.zeros((0, 0))
    vectors = await embedder.embed(list(queries), kind="query")
    return np.asarray(vectors, dtype=np.float64)
