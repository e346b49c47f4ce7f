"""Voyage embedder against a fake speaking Voyage's /v1/embeddings wire format."""

from __future__ import annotations

import pytest

from neuralbridge.embedders.batching import estimate_tokens
from neuralbridge.embedders.protocol import EmbedKind
from tests.embedders.conftest import API_KEY, MakeEmbedder, StartFake
from tests.support.fake_embedders import fake_vector


@pytest.mark.parametrize("kind", ["document", "query"])
async def test_embed_kind_voyage_maps_to_input_type(
    start_fake: StartFake, make_embedder: MakeEmbedder, kind: EmbedKind
) -> None:
    """document/query become input_type document/query; dimensions become output_dimension."""
    server = await start_fake("voyage", api_key=API_KEY)
    embedder = make_embedder(
        provider="voyage", model="voyage-3.5", base_url=server.base_url, dimensions=256
    )

    vectors = await embedder.embed(["q"], kind=kind)

    assert server.requests[0].body == {
        "input": ["q"],
        "model": "voyage-3.5",
        "input_type": kind,
        "output_dimension": 256,
    }
    assert vectors == [fake_vector("q", 256, kind)]


async def test_embed_1001_texts_voyage_splits_at_1000(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """1,001 inputs go out as 1,000 + 1."""
    server = await start_fake("voyage")
    embedder = make_embedder(provider="voyage", model="voyage-3.5", base_url=server.base_url)

    vectors = await embedder.embed([f"t{i}" for i in range(1001)], kind="document")

    assert [len(r.inputs) for r in server.requests] == [1000, 1]
    assert len(vectors) == 1001


async def test_embed_big_texts_voyage_large_splits_under_120k_tokens(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """voyage-3-large's 120K-token cap splits 6 texts of ~33K estimated tokens into 3 + 3."""
    server = await start_fake("voyage", max_tokens=120_000)
    embedder = make_embedder(provider="voyage", model="voyage-3-large", base_url=server.base_url)
    texts = [chr(ord("a") + i) * 100_000 for i in range(6)]

    await embedder.embed(texts, kind="document")

    assert [len(r.inputs) for r in server.requests] == [3, 3]
    assert all(sum(estimate_tokens(t) for t in r.inputs) <= 120_000 for r in server.requests)
    assert all(r.status == 200 for r in server.requests)
