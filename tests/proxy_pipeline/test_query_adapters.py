"""The proxy's retrieval applies the collection's active query adapter, followed live from KV.

Real pieces: a private nats-server (KV ``rag_adapters``, object store
``rag_adapters``), Qdrant local mode holding the two-topic corpus the base
embedding confuses, and the query embedder speaking the OpenAI wire format.
The adapter is published exactly as the trainer publishes it: weights in the
object store, a :class:`RagAdapterPointer` under the collection's key.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from qdrant_client import AsyncQdrantClient

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.schemas import encode
from neuralbridge.core.subjects import RAG_ADAPTERS_KV, RAG_ADAPTERS_OBJECT_STORE, rag_adapter_key
from neuralbridge.embedders import EmbedderProfile, EmbedderSettings, create_embedder
from neuralbridge.learning.adapter import encode_adapter
from neuralbridge.messages.training import RagAdapterPointer
from neuralbridge.proxy_pipeline.adapters import QueryAdapters
from neuralbridge.proxy_pipeline.retrieval import Retriever
from tests.learning.topic_corpus import (
    DIMS,
    TableEmbedderServer,
    TopicCorpus,
    confusing_corpus,
    fitted_adapter,
    seed_qdrant,
)
from tests.support.waiting import eventually

COLLECTION = "kb_topics"


@pytest.fixture
async def bus(private_nats: EmbeddedNats) -> AsyncIterator[Bus]:
    """A connection of its own to this test's nats-server."""
    connection = await Bus.connect(private_nats.url, name="proxy-adapters-test")
    yield connection
    await connection.close()


@pytest.fixture
def corpus() -> TopicCorpus:
    """Two topics the base embedding confuses."""
    return confusing_corpus()


@pytest.fixture
async def qdrant(
    tmp_path: Path, corpus: TopicCorpus
) -> AsyncIterator[tuple[AsyncQdrantClient, list[str]]]:
    """Local-mode Qdrant with the corpus; the client and the point ids."""
    client = AsyncQdrantClient(path=str(tmp_path / "qdrant"))
    ids = await seed_qdrant(client, COLLECTION, corpus)
    yield client, ids
    await client.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """The HTTP session the embedder client uses."""
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
async def embedder_url(corpus: TopicCorpus) -> AsyncIterator[str]:
    """The fake embeddings API serving the corpus's query vectors."""
    server = await TableEmbedderServer(corpus.table()).start()
    yield server.base_url
    await server.close()


async def _publish(bus: Bus, version: int, data: bytes, sha256: str | None = None) -> None:
    """Store weights and point the collection's key at them, as the trainer does."""
    store = await bus.js.object_store(RAG_ADAPTERS_OBJECT_STORE)
    name = f"{COLLECTION}/v{version}.npy"
    await store.put(name, data)
    pointer = RagAdapterPointer(
        collection=COLLECTION, version=version, object_name=name, dimensions=DIMS,
        sha256=sha256 or hashlib.sha256(data).hexdigest(), activated_at="2026-11-24T03:00:00Z",
    )  # fmt: skip
    kv = await bus.js.key_value(RAG_ADAPTERS_KV)
    await kv.put(rag_adapter_key(COLLECTION), encode(pointer))


async def test_active_adapter_changes_the_retrieved_chunk_and_clearing_restores_it(
    bus: Bus, qdrant: tuple[AsyncQdrantClient, list[str]], corpus: TopicCorpus,
    session: aiohttp.ClientSession, embedder_url: str,
) -> None:  # fmt: skip
    """Base: a wrong-topic chunk; adapter v1 published: the answer; key deleted: base again."""
    client, ids = qdrant
    profile = EmbedderProfile(provider="openai_compatible", model="table", base_url=embedder_url)
    embedder = create_embedder(profile, session=session, settings=EmbedderSettings(), env={})
    adapters = await QueryAdapters.start(bus.js, COLLECTION)
    retriever = Retriever(embedder, client, collection=COLLECTION, top_k=1,
                          score_threshold=-1.0, adapters=adapters)  # fmt: skip
    try:
        question = corpus.queries[4]
        before = await retriever.search(question.text)
        assert adapters.version is None
        assert retriever.knowledge_tag == ""
        assert before[0].point_id != ids[question.chunk]
        assert corpus.chunk_topics[ids.index(str(before[0].point_id))] != question.topic
        await _publish(bus, 1, encode_adapter(fitted_adapter(corpus)))
        await eventually(lambda: adapters.version == 1)
        assert retriever.knowledge_tag == "|rag-adapter-v1"  # cached answers are not reused
        after = await retriever.search(question.text)
        assert (after[0].collection, after[0].point_id) == (COLLECTION, ids[question.chunk])
        assert after[0].text == corpus.chunk_texts[question.chunk]
        kv = await bus.js.key_value(RAG_ADAPTERS_KV)
        await kv.delete(rag_adapter_key(COLLECTION))
        await eventually(lambda: adapters.version is None)
        assert (await retriever.search(question.text))[0].point_id == before[0].point_id
    finally:
        await adapters.close()


async def test_a_corrupt_artifact_is_not_applied(bus: Bus) -> None:
    """A pointer whose object fails its SHA-256 check leaves queries unadapted."""
    adapters = await QueryAdapters.start(bus.js, COLLECTION)  # declares the buckets
    await adapters.close()
    await _publish(bus, 1, encode_adapter(fitted_adapter(confusing_corpus())), sha256="0" * 64)
    adapters = await QueryAdapters.start(bus.js, COLLECTION)
    try:
        assert adapters.version is None
        assert adapters.apply([1.0] + [0.0] * (DIMS - 1)) == [1.0] + [0.0] * (DIMS - 1)
    finally:
        await adapters.close()


async def test_adapter_of_another_dimension_passes_queries_unchanged(bus: Bus) -> None:
    """A 32-d adapter never touches a 3-d query (another embedder): it passes as it came."""
    adapters = await QueryAdapters.start(bus.js, COLLECTION)
    try:
        await _publish(bus, 1, encode_adapter(-fitted_adapter(confusing_corpus())))
        await eventually(lambda: adapters.version == 1)
        assert adapters.apply([0.0, 3.0, 4.0]) == [0.0, 3.0, 4.0]
        adapted = adapters.apply([1.0] + [0.0] * (DIMS - 1))
        assert adapted != [1.0] + [0.0] * (DIMS - 1)
        assert sum(x * x for x in adapted) == pytest.approx(1.0)
    finally:
        await adapters.close()
