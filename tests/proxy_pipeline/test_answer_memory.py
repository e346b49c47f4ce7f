"""The answer memory is consulted before API B: a hit answers, a miss goes on to API B.

The memory is published the way the trainer's ``distillation`` job does it
(object store ``answer_memory`` + KV pointer ``answer_memory/active``); the
primary fails, so every request takes the fallback path.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any, Literal

import aiohttp
from prometheus_client import REGISTRY

from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import encode
from neuralbridge.core.subjects import (
    ANSWER_MEMORY_KEY,
    ANSWER_MEMORY_KV,
    ANSWER_MEMORY_OBJECT_STORE,
)
from neuralbridge.core.topology import KVSpec, declare_kv, declare_object_store
from neuralbridge.embedders import EmbedderProfile, EmbedderSettings, create_embedder
from neuralbridge.learning.memory import MemoryArtifact, MemoryEntry, normalize_text
from neuralbridge.messages.proxy import ProxyAnswer, ProxyDelta
from neuralbridge.messages.training import AnswerMemoryPointer
from tests.proxy_pipeline.conftest import FALLBACK_ANSWER, Gateway
from tests.proxy_pipeline.test_answers import QUESTION, final
from tests.support.fake_llm import FakeLLMServer
from tests.support.waiting import eventually

MEMORY_ANSWER = "Jane Doe founded Acme Rockets in 1990 [source 1]."
UNRELATED = "How many hours of sun do tomatoes need?"


def _hits() -> float:
    return REGISTRY.get_sample_value("nb_answer_memory_hits_total") or 0.0


async def _publish_memory(
    bus: Bus, *, version: int = 1, embedder: str | None = None, vector: list[float] | None = None
) -> None:
    """One remembered answer, for QUESTION, as the trainer publishes it (``embedding`` mode
    when ``embedder`` is given)."""
    js = bus.js
    similarity: Literal["lexical", "embedding"] = "lexical" if embedder is None else "embedding"
    await declare_kv(js, KVSpec(bucket=ANSWER_MEMORY_KV, history=5))
    await declare_object_store(js, ANSWER_MEMORY_OBJECT_STORE)
    run_id = str(uuid.uuid4())
    entry = MemoryEntry(
        request_id="r-1", query=normalize_text(QUESTION), answer=MEMORY_ANSWER, confidence=0.9,
        vector=vector,
    )  # fmt: skip
    artifact = MemoryArtifact(
        run_id=run_id, similarity=similarity, threshold=0.6 if embedder is None else 0.9,
        embedder=embedder, entries=[entry],
    )  # fmt: skip
    data = encode(artifact)
    store = await js.object_store(ANSWER_MEMORY_OBJECT_STORE)
    await store.put(f"{run_id}.json", data)
    pointer = AnswerMemoryPointer(
        version=version, run_id=run_id, object_name=f"{run_id}.json",
        sha256=hashlib.sha256(data).hexdigest(), entries=1, similarity=similarity,
        embedder=embedder,
        activated_at="2026-11-24T02:00:00+00:00",
    )  # fmt: skip
    kv = await js.key_value(ANSWER_MEMORY_KV)
    await kv.put(ANSWER_MEMORY_KEY, encode(pointer))


async def test_memory_hit_answers_without_calling_api_b(
    pipeline: Callable[..., Any], gateway: Gateway, primary: FakeLLMServer, fallback: FakeLLMServer
) -> None:
    """Primary fails; the remembered question is answered from memory, API B gets no call."""
    await _publish_memory(gateway.bus)
    primary.fail_next(3, status=500)
    before = _hits()
    async with pipeline():
        answer = final(await gateway.ask(QUESTION))
    assert isinstance(answer, ProxyAnswer)
    assert answer.answer == MEMORY_ANSWER
    assert (answer.provider, answer.model) == ("answer_memory", "answer_memory-v1")
    assert answer.fallback_used
    assert answer.fallback_reason == "primary_error"
    assert fallback.requests == []
    assert _hits() == before + 1


async def test_memory_miss_goes_on_to_api_b(
    pipeline: Callable[..., Any], gateway: Gateway, primary: FakeLLMServer, fallback: FakeLLMServer
) -> None:
    """A question the memory does not know is answered by API B, and no hit is counted."""
    await _publish_memory(gateway.bus)
    primary.fail_next(3, status=500)
    before = _hits()
    async with pipeline():
        answer = final(await gateway.ask(UNRELATED))
    assert isinstance(answer, ProxyAnswer)
    assert answer.provider == "ollama"
    assert answer.answer == FALLBACK_ANSWER
    assert len(fallback.requests) == 1
    assert _hits() == before


async def test_memory_published_while_running_is_followed(
    pipeline: Callable[..., Any], gateway: Gateway, primary: FakeLLMServer, fallback: FakeLLMServer
) -> None:
    """Before the pointer exists API B answers; once it is published the memory does."""
    primary.fail_next(100, status=500)
    async with pipeline(CACHE_ENABLED="false"):  # repeated asks must reach the fallback path
        first = final(await gateway.ask(QUESTION))
        assert isinstance(first, ProxyAnswer)
        assert first.provider == "ollama"
        assert len(fallback.requests) == 1
        await _publish_memory(gateway.bus, version=7)
        answers: list[ProxyAnswer] = []

        async def answered_from_memory() -> bool:
            reply = final(await gateway.ask(QUESTION, session_id=str(uuid.uuid4())))
            answers.append(reply)
            return bool(reply.provider == "answer_memory")

        await eventually(answered_from_memory, timeout=20)
    assert answers[-1].model == "answer_memory-v7"
    assert len(fallback.requests) == len(answers)  # every earlier ask went to API B


async def test_memory_hit_streams_the_remembered_answer(
    pipeline: Callable[..., Any], gateway: Gateway, primary: FakeLLMServer, fallback: FakeLLMServer
) -> None:
    """Streaming: the memory's answer arrives as deltas and as the final answer."""
    await _publish_memory(gateway.bus)
    primary.fail_next(3, status=500)
    async with pipeline():
        replies = await gateway.ask(QUESTION, stream=True)
    answer = final(replies)
    assert isinstance(answer, ProxyAnswer)
    assert answer.provider == "answer_memory"
    text = "".join(r.text for r in replies if isinstance(r, ProxyDelta) and not r.reset)
    assert text == MEMORY_ANSWER
    assert fallback.requests == []


async def _local_vector(text: str) -> list[float]:
    """``text`` embedded as a query by the pipeline's default embedder (local MiniLM)."""
    profile = EmbedderProfile(provider="local", model="all-MiniLM-L6-v2")
    async with aiohttp.ClientSession() as session:
        embedder = create_embedder(profile, session=session, settings=EmbedderSettings(), env={})
        return (await embedder.embed([text], kind="query"))[0]


async def test_embedding_memory_hit_with_the_same_embedder(
    pipeline: Callable[..., Any], gateway: Gateway, primary: FakeLLMServer, fallback: FakeLLMServer
) -> None:
    """An embedding memory built with the pipeline's own query embedder is consulted."""
    identity = EmbedderProfile(provider="local", model="all-MiniLM-L6-v2").cache_identity
    vector = await _local_vector(normalize_text(QUESTION))
    await _publish_memory(gateway.bus, embedder=identity, vector=vector)
    primary.fail_next(3, status=500)
    async with pipeline():
        answer = final(await gateway.ask("who FOUNDED acme rockets"))
    assert isinstance(answer, ProxyAnswer)
    assert (answer.provider, answer.answer) == ("answer_memory", MEMORY_ANSWER)
    assert fallback.requests == []


async def test_embedding_memory_of_another_embedder_is_not_consulted(
    pipeline: Callable[..., Any], gateway: Gateway, primary: FakeLLMServer, fallback: FakeLLMServer
) -> None:
    """A memory embedded by a model the pipeline does not use is skipped: API B answers."""
    other = EmbedderProfile(provider="openai", model="text-embedding-3-small").cache_identity
    vector = await _local_vector(normalize_text(QUESTION))
    await _publish_memory(gateway.bus, embedder=other, vector=vector)
    primary.fail_next(3, status=500)
    async with pipeline():
        answer = final(await gateway.ask(QUESTION))
    assert isinstance(answer, ProxyAnswer)
    assert answer.provider == "ollama"
    assert len(fallback.requests) == 1
