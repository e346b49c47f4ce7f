"""A generated corpus on which the base embedding provably confuses two topics.

Dimensions: 0 and 1 are the "topic A" and "topic B" axes of the chunks, 2 and
3 the "asked about A" and "asked about B" axes of the queries, the rest is
each chunk's own content. A chunk of topic T is ``e_T + 0.8 s`` (``s`` its
content); a query about chunk c of topic T is ``0.9 e_other + 0.4 e_asked(T)
+ 0.64 s_c/|s_c| + noise``: it leans toward the *other* topic's axis, so every
chunk of the other topic outscores its own chunk and the base top 5 never
holds it. A linear map (asked(T) → T, the chunk axes → 0, content kept)
restores it: exactly what a query-side adapter can learn.

:class:`TableEmbedderServer` serves these vectors over the OpenAI embeddings
wire format (the fake of :mod:`tests.support.fake_embedders`), so services
embed the query texts the way they would against a real provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from qdrant_client import AsyncQdrantClient, models

from neuralbridge.learning.adapter import AdapterConfig, AdapterTrainer, PairSet
from neuralbridge.vectors import CollectionSpec, ensure_collection, point_id, upload_points
from tests.support.fake_embedders import FakeEmbedderServer

DIMS = 32
TOPICS = ("alpha", "beta")


@dataclass(frozen=True)
class Query:
    """One generated question: its text, vector and the chunk that answers it."""

    text: str
    vector: list[float]
    chunk: int
    topic: int


@dataclass(frozen=True)
class TopicCorpus:
    """Chunks of two topics and questions that lean toward the wrong one."""

    chunks: list[list[float]]
    chunk_topics: list[int]
    chunk_texts: list[str]
    queries: list[Query]

    def chunk_matrix(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The chunk vectors as an array."""
        return np.asarray(self.chunks, dtype=np.float64)

    def table(self) -> dict[str, list[float]]:
        """Query text → vector, for :class:`TableEmbedderServer`."""
        return {q.text: q.vector for q in self.queries}


def _unit(v: np.ndarray[Any, np.dtype[np.float64]]) -> list[float]:
    return [float(x) for x in v / np.linalg.norm(v)]


def confusing_corpus(
    *, per_topic: int = 20, queries_per_chunk: int = 3, seed: int = 7, lean: float = 0.9
) -> TopicCorpus:
    """Generate the corpus (deterministic for a seed); a smaller ``lean`` confuses less."""
    rng = np.random.default_rng(seed)
    chunks, topics, texts, contents = [], [], [], []
    for topic in (0, 1):
        for i in range(per_topic):
            content = np.zeros(DIMS)
            content[4:] = rng.normal(size=DIMS - 4) / np.sqrt(DIMS - 4)
            axis = np.zeros(DIMS)
            axis[topic] = 1.0
            chunks.append(_unit(axis + 0.8 * content))
            topics.append(topic)
            texts.append(f"{TOPICS[topic]} passage {i}")
            contents.append(content / np.linalg.norm(content))
    queries = []
    for c, (topic, content) in enumerate(zip(topics, contents, strict=True)):
        for r in range(queries_per_chunk):
            wrong = np.zeros(DIMS)
            wrong[1 - topic], wrong[2 + topic] = lean, 0.4
            noise = rng.normal(size=DIMS) * 0.15 / np.sqrt(DIMS)
            text = f"question {r} about {TOPICS[topic]} passage {c % per_topic}"
            queries.append(Query(text, _unit(wrong + 0.64 * content + noise), c, topic))
    return TopicCorpus(chunks=chunks, chunk_topics=topics, chunk_texts=texts, queries=queries)


def fitted_adapter(corpus: TopicCorpus) -> np.ndarray[Any, np.dtype[np.float64]]:
    """An adapter trained on every query of the corpus (good on any held-out split)."""
    pairs = PairSet(
        queries=np.asarray([q.vector for q in corpus.queries]), chunks=corpus.chunk_matrix(),
        positive=np.asarray([q.chunk for q in corpus.queries], dtype=np.int64),
        group=np.arange(len(corpus.queries), dtype=np.int64),
    )  # fmt: skip
    config = AdapterConfig()
    trainer = AdapterTrainer(pairs, config)
    for _ in range(config.epochs):
        trainer.epoch()
    return trainer.weights


async def seed_qdrant(qdrant: AsyncQdrantClient, collection: str, corpus: TopicCorpus) -> list[str]:
    """Store the chunks as the dataset-transform worker does; return their point ids."""
    await ensure_collection(qdrant, CollectionSpec(name=collection, size=DIMS), create=True)
    ids = [point_id("topics", i, "table-embedder") for i in range(len(corpus.chunks))]
    points = [
        models.PointStruct(
            id=pid,
            vector=vector,
            payload={"text": text, "source_file": "topics.md", "chunk_index": i},
        )
        for i, (pid, vector, text) in enumerate(
            zip(ids, corpus.chunks, corpus.chunk_texts, strict=True)
        )
    ]
    await upload_points(qdrant, collection, points, batch_size=64)
    return ids


class TableEmbedderServer(FakeEmbedderServer):
    """The fake OpenAI embeddings API answering known texts from a table.

    Other texts get the fake's usual hash-seeded vectors.
    """

    def __init__(self, table: dict[str, list[float]]) -> None:
        super().__init__("openai", native_dimensions=DIMS)
        self.table = table

    def _embed(self, path: str, body: Any, malformed: str) -> Any:
        payload = super()._embed(path, body, malformed)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        for item in payload["data"]:
            vector = self.table.get(texts[item["index"]])
            if vector is not None:
                item["embedding"] = vector
        return payload
