"""Cohere v2 embedder against a fake speaking Cohere's /v2/embed wire format."""

from __future__ import annotations

import pytest

from neuralbridge.embedders import EmbedderError
from neuralbridge.embedders.protocol import EmbedKind
from tests.embedders.conftest import API_KEY, MakeEmbedder, StartFake
from tests.support.fake_embedders import fake_vector


@pytest.mark.parametrize(
    ("kind", "input_type"), [("document", "search_document"), ("query", "search_query")]
)
async def test_embed_kind_cohere_maps_to_input_type(
    start_fake: StartFake, make_embedder: MakeEmbedder, kind: EmbedKind, input_type: str
) -> None:
    """document/query become search_document/search_query with float embedding types."""
    server = await start_fake("cohere", api_key=API_KEY)
    embedder = make_embedder(
        provider="cohere", model="embed-english-v3.0", base_url=server.base_url
    )

    vectors = await embedder.embed(["hello", "world"], kind=kind)

    (request,) = server.requests
    assert request.path == "/v2/embed"
    assert request.body == {
        "model": "embed-english-v3.0",
        "texts": ["hello", "world"],
        "input_type": input_type,
        "embedding_types": ["float"],
    }
    assert vectors == [fake_vector("hello", 16, input_type), fake_vector("world", 16, input_type)]


async def test_embed_cohere_options_send_truncate_and_output_dimension(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """options.truncate and dimensions reach the body as truncate and output_dimension."""
    server = await start_fake("cohere")
    embedder = make_embedder(
        provider="cohere",
        model="embed-v4.0",
        base_url=server.base_url,
        dimensions=256,
        options={"truncate": "END"},
    )

    vectors = await embedder.embed(["x"], kind="document")

    assert server.requests[0].body["truncate"] == "END"
    assert server.requests[0].body["output_dimension"] == 256
    assert len(vectors[0]) == 256


async def test_embed_250_texts_cohere_sends_three_requests_of_at_most_96(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """250 texts go out as 96 + 96 + 58 and come back in order."""
    server = await start_fake("cohere")
    embedder = make_embedder(
        provider="cohere", model="embed-english-v3.0", base_url=server.base_url
    )
    texts = [f"doc {i}" for i in range(250)]

    vectors = await embedder.embed(texts, kind="document")

    assert [len(r.inputs) for r in server.requests] == [96, 96, 58]
    assert vectors == [fake_vector(t, 16, "search_document") for t in texts]


async def test_embed_over_limit_batch_cohere_fake_rejects_like_the_api(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """A server with a lower limit answers 400 with Cohere's message, surfaced verbatim."""
    server = await start_fake("cohere", max_inputs=10)
    embedder = make_embedder(
        provider="cohere", model="embed-english-v3.0", base_url=server.base_url
    )

    with pytest.raises(EmbedderError) as caught:
        await embedder.embed([f"t{i}" for i in range(20)], kind="document")

    assert "cohere: HTTP 400: invalid request: total number of texts must be at most 10" in str(
        caught.value
    )
    assert len(server.requests) == 1
