"""Jina embedder against a fake speaking Jina's /v1/embeddings wire format."""

from __future__ import annotations

import pytest

from neuralbridge.embedders.protocol import EmbedKind
from tests.embedders.conftest import API_KEY, MakeEmbedder, StartFake
from tests.support.fake_embedders import fake_vector


@pytest.mark.parametrize(
    ("kind", "task"), [("document", "retrieval.passage"), ("query", "retrieval.query")]
)
async def test_embed_kind_jina_v3_maps_to_task(
    start_fake: StartFake, make_embedder: MakeEmbedder, kind: EmbedKind, task: str
) -> None:
    """jina-embeddings-v3 gets task retrieval.passage/retrieval.query and dimensions."""
    server = await start_fake("jina", api_key=API_KEY)
    embedder = make_embedder(
        provider="jina", model="jina-embeddings-v3", base_url=server.base_url, dimensions=32
    )

    vectors = await embedder.embed(["a text"], kind=kind)

    assert server.requests[0].body == {
        "model": "jina-embeddings-v3",
        "input": ["a text"],
        "embedding_type": "float",
        "task": task,
        "dimensions": 32,
    }
    assert vectors == [fake_vector("a text", 32, task)]


async def test_embed_jina_v2_sends_no_task(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """v2 models have no task adapters, so no task is sent."""
    server = await start_fake("jina")
    embedder = make_embedder(
        provider="jina", model="jina-embeddings-v2-base-en", base_url=server.base_url
    )

    await embedder.embed(["x"], kind="query")

    assert "task" not in server.requests[0].body


async def test_embed_jina_task_option_overrides_kind(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """options.task (e.g. code.query) replaces the kind's task; late_chunking passes through."""
    server = await start_fake("jina")
    embedder = make_embedder(
        provider="jina",
        model="jina-embeddings-v3",
        base_url=server.base_url,
        options={"task": "code.query", "late_chunking": True},
    )

    await embedder.embed(["def f(): pass"], kind="document")

    assert server.requests[0].body["task"] == "code.query"
    assert server.requests[0].body["late_chunking"] is True


async def test_embed_3000_texts_jina_splits_at_2048(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """3,000 inputs go out as 2,048 + 952."""
    server = await start_fake("jina")
    embedder = make_embedder(provider="jina", model="jina-embeddings-v3", base_url=server.base_url)

    vectors = await embedder.embed([f"t{i}" for i in range(3000)], kind="document")

    assert [len(r.inputs) for r in server.requests] == [2048, 952]
    assert len(vectors) == 3000
