"""The worker's embedder profiles: names resolved, inline keys used and never kept or shown."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from structlog.testing import capture_logs

from neuralbridge.core import dlq
from neuralbridge.core.bus import Bus
from neuralbridge.dataset_transform.embedders import MAX_CLIENTS, EmbedderPool
from neuralbridge.embedders import (
    EmbedderConfigError,
    EmbedderProfile,
    EmbedderSettings,
    KeyedEmbedderProfile,
    load_profiles,
)
from neuralbridge.messages.datasets import redact_transform_job
from tests.dataset_transform.helpers import finished, ingest, transform, write_corpus
from tests.support.fake_embedders import FakeEmbedderServer
from tests.support.waiting import eventually

SECRET = "nbtest-inline-key-5be07d"
MODEL = "text-embedding-3-small"


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeEmbedderServer]:
    """A fake OpenAI embeddings API that requires the inline key."""
    server = await FakeEmbedderServer("openai", api_key=SECRET).start()
    yield server
    await server.close()


def _seed_job(dataset: str, base_url: str) -> bytes:
    """A transform in the format other services publish: the full profile, key inline."""
    return json.dumps({
        "transform_id": str(uuid.uuid4()), "dataset": dataset, "collection": "docs",
        "embedder": {"provider": "openai", "base_url": base_url, "model": MODEL,
                     "api_key": SECRET},
    }).encode()  # fmt: skip


async def _letters(bus: Bus) -> list[dlq.DeadLetter]:
    return [e async for e in dlq.entries(bus.js, "DLQ_DATASET_TRANSFORMS")]


async def _dlq_depth(bus: Bus, count: int) -> bool:
    return int((await bus.js.stream_info("DLQ_DATASET_TRANSFORMS")).state.messages) >= count


async def test_transform_unknown_profile_goes_to_dlq_at_once(
    worker: Callable[..., Any], client_bus: Bus
) -> None:
    """A name no profile has fails on the first delivery; the state says why."""
    async with worker():
        state = await finished(
            client_bus, await transform(client_bus, "corpus", "docs", "no-such-profile")
        )
        await eventually(lambda: _dlq_depth(client_bus, 1))
    [letter] = await _letters(client_bus)
    assert state.status == "failed"
    assert "unknown embedder profile 'no-such-profile'" in (state.error or "")
    assert "openai" in (state.error or "")
    assert letter.headers["X-Dlq-Deliveries"] == "1"
    assert letter.headers["X-Dlq-Error-Class"] == "UnknownEmbedderProfile"


async def test_transform_seed_format_job_with_api_key_completes(
    worker: Callable[..., Any],
    client_bus: Bus,
    tmp_path: Path,
    fake_openai: FakeEmbedderServer,
    database_url: str,
) -> None:
    """The inline key is sent as the bearer token, and is neither logged nor stored."""
    with capture_logs() as logs:
        async with worker():
            await ingest(client_bus, write_corpus(tmp_path / "docs"), "corpus")
            body = _seed_job("corpus", fake_openai.base_url)
            await client_bus.publish("DATASET_TRANSFORMS", body)
            state = await finished(client_bus, json.loads(body)["transform_id"])
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval("SELECT embedder::text FROM dataset_transform.transforms")
    finally:
        await conn.close()
    assert state.status == "completed", state.error
    assert fake_openai.answered
    assert {r.headers["Authorization"] for r in fake_openai.requests} == {f"Bearer {SECRET}"}
    assert SECRET not in str(logs)
    assert SECRET not in stored


async def test_transform_seed_format_job_dead_letter_masks_api_key(
    worker: Callable[..., Any], client_bus: Bus, fake_openai: FakeEmbedderServer
) -> None:
    """The DLQ copy carries the key as ``********`` and says so in X-Dlq-Redacted."""
    body = _seed_job("missing-dataset", fake_openai.base_url)
    with capture_logs() as logs:
        async with worker():
            await client_bus.publish("DATASET_TRANSFORMS", body)
            await eventually(lambda: _dlq_depth(client_bus, 1))
    [letter] = await _letters(client_bus)
    original, copy = json.loads(body), json.loads(letter.body)
    assert letter.headers["X-Dlq-Redacted"] == "embedder.api_key"
    assert copy["embedder"].pop("api_key") == "********"
    original["embedder"].pop("api_key")
    assert copy == original
    assert SECRET not in letter.body.decode()
    assert SECRET not in json.dumps(letter.headers)
    assert SECRET not in str(logs)


async def test_transform_replayed_masked_key_is_refused_clearly(
    worker: Callable[..., Any], client_bus: Bus, fake_openai: FakeEmbedderServer
) -> None:
    """Replaying a masked copy as is never sends ``********`` to the provider."""
    body = _seed_job("corpus", fake_openai.base_url).replace(SECRET.encode(), b"********")
    async with worker():
        await client_bus.publish("DATASET_TRANSFORMS", body)
        state = await finished(client_bus, json.loads(body)["transform_id"])
    assert state.status == "failed"
    assert "masked" in (state.error or "")
    assert fake_openai.requests == []


async def test_pool_keys_clients_by_endpoint_credential_and_key() -> None:
    """Same definition, same client; another base URL, variable or inline key, another client."""
    env = {"OPENAI_API_KEY": "sk-a", "OTHER_KEY": "sk-b"}
    base = EmbedderProfile(provider="openai", model=MODEL)
    variants = [
        EmbedderProfile(provider="openai", model=MODEL, base_url="http://attacker.example/v1"),
        EmbedderProfile(provider="openai", model=MODEL, credential="OTHER_KEY"),
        KeyedEmbedderProfile(provider="openai", model=MODEL, api_key="sk-c"),
        KeyedEmbedderProfile(provider="openai", model=MODEL, api_key="sk-d"),
    ]
    async with aiohttp.ClientSession() as session:
        pool = EmbedderPool(session, EmbedderSettings(), env, load_profiles(env))
        legit = pool.get("openai")
        clients = [pool.get(v) for v in variants]
        again = pool.get(base)

    assert again is legit
    assert len({id(c) for c in [legit, *clients]}) == 5


async def test_pool_unknown_name_is_config_error() -> None:
    """A name the operator did not configure is a permanent configuration error."""
    async with aiohttp.ClientSession() as session:
        pool = EmbedderPool(session, EmbedderSettings(), {}, load_profiles({}))
        with pytest.raises(EmbedderConfigError, match="unknown embedder profile"):
            pool.get("elsewhere")


async def test_pool_keeps_at_most_max_clients_least_recent_first() -> None:
    """Jobs with ever new keys cannot grow the pool without bound."""
    keyed = [
        KeyedEmbedderProfile(provider="openai", model=MODEL, api_key=f"sk-{i}")
        for i in range(MAX_CLIENTS + 1)
    ]
    async with aiohttp.ClientSession() as session:
        pool = EmbedderPool(session, EmbedderSettings(), {}, load_profiles({}))
        first = pool.get(keyed[0])
        kept = [pool.get(p) for p in keyed[1:]]
        assert pool.get(keyed[-1]) is kept[-1]
        assert pool.get(keyed[0]) is not first


@pytest.mark.parametrize(
    "body",
    [b'{"embedder": "openai", "dataset": "d"}',
     b'{"embedder": {"provider": "openai", "model": "m"}}', b"not json at all"],
)  # fmt: skip
def test_redact_body_without_key_keeps_bytes(body: bytes) -> None:
    """A body with no inline key is dead-lettered byte for byte, with no header."""
    headers: dict[str, str] = {}

    assert dlq.dead_letter_body(body, headers, redact_transform_job) == body
    assert headers == {}


def test_redact_malformed_body_still_masks_key() -> None:
    """A key inside a body that is not valid JSON is masked all the same."""
    body = b'{"embedder": {"api_key": "' + SECRET.encode() + b'", "model": '
    headers: dict[str, str] = {}

    masked = dlq.dead_letter_body(body, headers, redact_transform_job)
    assert SECRET.encode() not in masked
    assert b'"api_key": "********"' in masked
    assert headers == {"X-Dlq-Redacted": "embedder.api_key"}
