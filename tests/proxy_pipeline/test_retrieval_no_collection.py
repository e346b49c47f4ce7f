"""Before anything is ingested, a question is not embedded at all."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient, models

from neuralbridge.embedders.protocol import EmbedKind
from neuralbridge.proxy_pipeline import retrieval
from neuralbridge.proxy_pipeline.retrieval import Retriever


class CountingEmbedder:
    """A 3-d embedder that counts its calls (the real protocol, no model)."""

    provider = "counting"
    model = "three-d"
    max_batch = 8

    def __init__(self) -> None:
        self.calls = 0

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> list[list[float]]:
        self.calls += 1
        return [[1.0, 0.0, 0.0] for _ in texts]

    async def aclose(self) -> None:
        return None


async def test_missing_collection_skips_the_embedder_until_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No collection: [] and no embed call; once created (and the check is due): passages."""
    monkeypatch.setattr(retrieval, "_MISSING_TTL", 0.0)
    client = AsyncQdrantClient(path=str(tmp_path / "qdrant"))
    embedder = CountingEmbedder()
    retriever = Retriever(embedder, client, collection="knowledge", top_k=3, score_threshold=0.0)
    try:
        assert await retriever.search("what is acme?") == []
        assert await retriever.search("and again?") == []
        assert embedder.calls == 0
        await client.create_collection(
            "knowledge", vectors_config=models.VectorParams(size=3, distance=models.Distance.COSINE)
        )
        await client.upsert("knowledge", points=[models.PointStruct(
            id=1, vector=[1.0, 0.0, 0.0],
            payload={"text": "Acme builds rockets.", "source_file": "acme.txt", "chunk_index": 0},
        )])  # fmt: skip
        found = await retriever.search("what is acme?")
        assert embedder.calls == 1
        assert [(s.document, s.text) for s in found] == [("acme.txt", "Acme builds rockets.")]
    finally:
        await client.close()
