"""TEI embedder against a fake speaking text-embeddings-inference's /embed wire format."""

from __future__ import annotations

import pytest

from neuralbridge.embedders import EmbedderError
from tests.embedders.conftest import MakeEmbedder, StartFake
from tests.support.fake_embedders import fake_vector


async def test_embed_tei_posts_inputs_with_options(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """/embed gets {inputs, truncate, normalize} and answers a bare list of vectors."""
    server = await start_fake("tei")
    embedder = make_embedder(
        provider="tei",
        model="BAAI/bge-small-en-v1.5",
        base_url=server.base_url,
        options={"truncate": True, "normalize": True},
    )

    vectors = await embedder.embed(["a", "b"], kind="document")

    assert server.requests[0].path == "/embed"
    assert server.requests[0].body == {"inputs": ["a", "b"], "truncate": True, "normalize": True}
    assert vectors == [fake_vector("a", 16), fake_vector("b", 16)]


async def test_embed_70_texts_tei_splits_at_default_32(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """The default client batch size of 32 is respected."""
    server = await start_fake("tei")
    embedder = make_embedder(provider="tei", model="bge", base_url=server.base_url)

    vectors = await embedder.embed([f"t{i}" for i in range(70)], kind="document")

    assert [len(r.inputs) for r in server.requests] == [32, 32, 6]
    assert len(vectors) == 70


async def test_embed_tei_max_batch_option_raises_batch_size(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """options.max_batch follows a server started with a larger --max-client-batch-size."""
    server = await start_fake("tei", max_inputs=64)
    embedder = make_embedder(
        provider="tei", model="bge", base_url=server.base_url, options={"max_batch": 64}
    )

    await embedder.embed([f"t{i}" for i in range(70)], kind="document")

    assert [len(r.inputs) for r in server.requests] == [64, 6]


async def test_embed_tei_over_server_limit_raises_validation_error(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """A max_batch above the server's limit gets TEI's 422, permanent, with its message."""
    server = await start_fake("tei")
    embedder = make_embedder(
        provider="tei", model="bge", base_url=server.base_url, options={"max_batch": 64}
    )

    with pytest.raises(EmbedderError, match="HTTP 422: batch size 64 > maximum allowed batch"):
        await embedder.embed([f"t{i}" for i in range(64)], kind="document")
    assert len(server.requests) == 1
