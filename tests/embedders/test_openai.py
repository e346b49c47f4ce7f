"""OpenAI and OpenAI-compatible embedders against fakes speaking OpenAI's wire format."""

from __future__ import annotations

from neuralbridge.embedders.batching import estimate_tokens
from tests.embedders.conftest import API_KEY, MakeEmbedder, StartFake
from tests.support.fake_embedders import fake_vector


async def test_embed_documents_openai_sends_documented_body(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """A document call posts input, model, encoding_format and dimensions with the bearer key."""
    server = await start_fake("openai", api_key=API_KEY)
    embedder = make_embedder(
        provider="openai", model="text-embedding-3-small", base_url=server.base_url, dimensions=8
    )

    vectors = await embedder.embed(["alpha", "beta"], kind="document")

    assert vectors == [fake_vector("alpha", 8), fake_vector("beta", 8)]
    (request,) = server.requests
    assert request.path == "/v1/embeddings"
    assert request.body == {
        "input": ["alpha", "beta"],
        "model": "text-embedding-3-small",
        "encoding_format": "float",
        "dimensions": 8,
    }
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"


async def test_embed_query_openai_sends_no_kind_field(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """OpenAI has no document/query field: a query call sends the same body shape."""
    server = await start_fake("openai")
    embedder = make_embedder(
        provider="openai", model="text-embedding-ada-002", base_url=server.base_url
    )

    vectors = await embedder.embed(["where is it?"], kind="query")

    assert vectors == [fake_vector("where is it?", 16)]
    assert set(server.requests[0].body) == {"input", "model", "encoding_format"}


async def test_embed_2500_texts_openai_splits_at_2048_inputs(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """2,500 inputs go out as 2,048 + 452 and come back in input order."""
    server = await start_fake("openai")
    embedder = make_embedder(
        provider="openai", model="text-embedding-3-small", base_url=server.base_url
    )
    texts = [f"chunk {i}" for i in range(2500)]

    vectors = await embedder.embed(texts, kind="document")

    assert [len(r.inputs) for r in server.requests] == [2048, 452]
    assert vectors == [fake_vector(t, 16) for t in texts]


async def test_embed_big_texts_openai_splits_under_token_cap(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """Texts whose estimated tokens exceed 300,000 together are split under the cap."""
    server = await start_fake("openai", max_tokens=300_000)
    embedder = make_embedder(
        provider="openai", model="text-embedding-3-large", base_url=server.base_url
    )
    texts = [chr(ord("a") + i) * 200_000 for i in range(10)]

    vectors = await embedder.embed(texts, kind="document")

    assert [len(r.inputs) for r in server.requests] == [4, 4, 2]
    assert all(sum(estimate_tokens(t) for t in r.inputs) <= 300_000 for r in server.requests)
    assert all(r.status == 200 for r in server.requests)
    assert vectors == [fake_vector(t, 16) for t in texts]


async def test_embed_openai_compatible_tei_route_splits_at_32_without_key(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """openai_compatible posts to {base_url}/embeddings, 32 inputs per request, no key."""
    server = await start_fake("tei")
    embedder = make_embedder(
        provider="openai_compatible", model="bge-small", base_url=f"{server.root_url}/v1"
    )
    texts = [f"t{i}" for i in range(40)]

    vectors = await embedder.embed(texts, kind="query")

    assert [len(r.inputs) for r in server.requests] == [32, 8]
    assert all(r.path == "/v1/embeddings" for r in server.requests)
    assert "Authorization" not in server.requests[0].headers
    assert vectors == [fake_vector(t, 16) for t in texts]
