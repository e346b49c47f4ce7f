"""The proxy pipeline under test: its real composition root, in-process.

Each test gets its own nats-server and PostgreSQL database, a Qdrant
local-mode directory holding a small collection embedded with the local
all-MiniLM-L6-v2 (so retrieval is real), and fake OpenAI (primary) and Ollama
(API B) servers. :class:`Gateway` plays the gateway: it publishes requests and
collects the replies on its inbox.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from qdrant_client import AsyncQdrantClient, models

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.schemas import decode
from neuralbridge.core.service import open_deps
from neuralbridge.core.settings import load_settings
from neuralbridge.core.subjects import proxy_request_subject
from neuralbridge.embedders import EmbedderProfile, EmbedderSettings, create_embedder
from neuralbridge.messages.proxy import ProxyAnswer, ProxyFailure, ProxyReply, ProxyRequest
from neuralbridge.proxy_pipeline import SERVICE, ProxyPipelineSettings
from neuralbridge.vectors import CollectionSpec, ensure_collection, point_id, upload_points
from tests.support.fake_llm import FakeLLMServer

COLLECTION = "kb_test"
DOCUMENTS = {
    "acme.md": "Acme Rockets was founded in 1990 by Jane Doe. "
    "The company builds reusable rockets in Lisbon.",
    "bakery.md": "The Lisbon bakery sells pastel de nata every morning. It opens at seven.",
    "garden.md": "Tomatoes need six hours of sun per day and regular watering.",
}
GROUNDED = "Acme Rockets was founded in 1990 by Jane Doe [source 1]."
UNGROUNDED = "Paris is the capital of France."
FALLBACK_ANSWER = "Jane Doe founded Acme Rockets in 1990, in Lisbon [source 1]."


@pytest.fixture
def pipeline_nats(private_nats: EmbeddedNats) -> EmbeddedNats:
    """This test's own nats-server (the stream names are the real, fixed ones)."""
    return private_nats


@pytest.fixture
async def primary() -> AsyncIterator[FakeLLMServer]:
    """The primary provider: a fake OpenAI answering from the knowledge base."""
    server = await FakeLLMServer("openai", answer=GROUNDED).start()
    yield server
    await server.close()


@pytest.fixture
async def fallback() -> AsyncIterator[FakeLLMServer]:
    """API B: a fake Ollama."""
    server = await FakeLLMServer("ollama", answer=FALLBACK_ANSWER).start()
    yield server
    await server.close()


@pytest.fixture
def pipeline_env(
    pipeline_nats: EmbeddedNats,
    database_url: str,
    tmp_path: Path,
    primary: FakeLLMServer,
    fallback: FakeLLMServer,
) -> dict[str, str]:
    """OpenAI primary and Ollama fallback on fakes, fast retries, the test collection."""
    return {
        "NATS_URL": pipeline_nats.url,
        "DATABASE_URL": database_url,
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "LLM_PROVIDER": "openai",
        "OPENAI_BASE_URL": primary.base_url,
        "OPENAI_DEFAULT_MODEL": "gpt-test",
        "FALLBACK_PROVIDER": "ollama",
        "FALLBACK_BASE_URL": fallback.base_url,
        "FALLBACK_MODEL": "llama-test",
        "LLM_MAX_RETRIES": "0",
        "LLM_RETRY_DELAY_MS": "10",
        "LLM_TIMEOUT": "5",
        "LLM_FIRST_TOKEN_TIMEOUT": "5",
        "RAG_COLLECTION": COLLECTION,
        "RAG_TOP_K": "2",
        "RAG_SCORE_THRESHOLD": "0.2",
        "PROXY_RETRY_SCHEDULE": "0.2,0.2",
        "LOG_LEVEL": "warning",
        "SHUTDOWN_GRACE_SECONDS": "5",
    }


async def seed_collection(qdrant: AsyncQdrantClient) -> None:
    """Embed DOCUMENTS with the local model into COLLECTION (the worker's payload shape)."""
    profile = EmbedderProfile(provider="local", model="all-MiniLM-L6-v2")
    async with aiohttp.ClientSession() as session:
        embedder = create_embedder(profile, session=session, settings=EmbedderSettings(), env={})
        vectors = await embedder.embed(list(DOCUMENTS.values()), kind="document")
    await ensure_collection(
        qdrant, CollectionSpec(name=COLLECTION, size=len(vectors[0])), create=True
    )
    points = [
        models.PointStruct(
            id=point_id(name, 0, profile.cache_identity),
            vector=vector,
            payload={"text": text, "source_file": name, "chunk_index": 0, "dataset": "kb"},
        )
        for (name, text), vector in zip(DOCUMENTS.items(), vectors, strict=True)
    ]
    await upload_points(qdrant, COLLECTION, points, batch_size=10)


@asynccontextmanager
async def running_pipeline(env: dict[str, str]) -> AsyncIterator[None]:
    """Run the service's main until the block exits (collection seeded first)."""
    settings = load_settings(ProxyPipelineSettings, env)
    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        qdrant = AsyncQdrantClient(path=env["QDRANT_PATH"])
        stack.push_async_callback(qdrant.close)
        if not await qdrant.collection_exists(COLLECTION):
            await seed_collection(qdrant)
        deps = await open_deps(
            SERVICE, settings, HealthServer("127.0.0.1", 0), stack, env=env, qdrant=qdrant
        )
        task = asyncio.create_task(SERVICE.main(deps, stop))
        await _wait_declared(deps.bus)
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


async def _wait_declared(bus: Bus) -> None:
    for _ in range(200):
        try:
            await bus.js.consumer_info("PROXY_REQUESTS", "proxy-pipeline")
            await bus.js.key_value("proxy_sessions")
        except Exception:  # not declared yet
            await asyncio.sleep(0.05)
        else:
            return
    raise AssertionError("pipeline did not declare its topology")


@pytest.fixture
def pipeline(pipeline_env: dict[str, str]) -> Callable[..., Any]:
    """``async with pipeline(**overrides):`` runs the service in this test (None unsets)."""

    def start(**overrides: str | None) -> Any:
        env = {**pipeline_env, **overrides}
        return running_pipeline({k: v for k, v in env.items() if v is not None})

    return start


class Gateway:
    """Publish requests like the gateway and collect their replies."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def ask(
        self, query: str, *, session_id: str = "s1", timeout: float = 30.0, **fields: Any
    ) -> list[ProxyReply]:
        """Every reply of one request, up to its final answer or failure."""
        inbox = self.bus.nc.new_inbox()
        replies: list[ProxyReply] = []
        finished = asyncio.Event()

        async def on_reply(msg: Any) -> None:
            reply: ProxyReply = decode(msg.data, ProxyReply)  # type: ignore[arg-type]
            replies.append(reply)
            if isinstance(reply, ProxyAnswer | ProxyFailure):
                finished.set()

        sub = await self.bus.nc.subscribe(inbox, cb=on_reply)
        request = ProxyRequest(
            request_id=str(uuid.uuid4()),
            session_id=session_id,
            query=query,
            reply_to=inbox,
            deadline=fields.pop("deadline", time.time() + timeout),
            **fields,
        )
        await self.bus.publish(proxy_request_subject(session_id), request)
        try:
            await asyncio.wait_for(finished.wait(), timeout)
        finally:
            await sub.unsubscribe()
        return replies


@pytest.fixture
async def gateway(pipeline_nats: EmbeddedNats) -> AsyncIterator[Gateway]:
    """A connection playing the gateway."""
    bus = await Bus.connect(pipeline_nats.url, name="test-gateway")
    yield Gateway(bus)
    await bus.close()
