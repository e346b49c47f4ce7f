"""Ollama embedder against a fake speaking Ollama's /api/embed wire format."""

from __future__ import annotations

import pytest

from neuralbridge.embedders import EmbedderError
from tests.embedders.conftest import MakeEmbedder, StartFake
from tests.support.fake_embedders import fake_vector


async def test_embed_ollama_posts_model_and_input_list(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """One /api/embed request carries the list; no key, no kind field."""
    server = await start_fake("ollama")
    embedder = make_embedder(
        provider="ollama",
        model="nomic-embed-text",
        base_url=server.base_url,
        options={"truncate": True},
    )

    vectors = await embedder.embed(["one", "two"], kind="query")

    (request,) = server.requests
    assert request.path == "/api/embed"
    assert request.body == {"model": "nomic-embed-text", "input": ["one", "two"], "truncate": True}
    assert "Authorization" not in request.headers
    assert vectors == [fake_vector("one", 16), fake_vector("two", 16)]


async def test_embed_70_texts_ollama_splits_at_max_batch(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """Ollama requests carry 64 inputs by default."""
    server = await start_fake("ollama")
    embedder = make_embedder(provider="ollama", model="bge-m3", base_url=server.base_url)

    await embedder.embed([f"t{i}" for i in range(70)], kind="document")

    assert [len(r.inputs) for r in server.requests] == [64, 6]


async def test_embed_ollama_404_raises_error_with_ollama_message(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """Ollama's {"error": ...} body becomes the error message."""
    server = await start_fake("ollama")
    server.fail_next(status=404, message='model "nope" not found, try pulling it first')
    embedder = make_embedder(provider="ollama", model="nope", base_url=server.base_url)

    with pytest.raises(EmbedderError, match=r'ollama: HTTP 404: model "nope" not found'):
        await embedder.embed(["x"], kind="document")
