"""Attacks on the embedder configuration: operator keys and documents go nowhere else.

C1: a caller of ``POST /api/transforms`` tries to point the worker at its own
server with an operator's key (``OPENAI_API_KEY``) or any variable (``HOME``).
H2: a job with another endpoint first, then a legitimate job for the same
provider and model: the legitimate job must reach the legitimate server, with
no client (or cached vector) of the first job's endpoint reused.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from tests.dataset_transform.conftest import running_worker
from tests.dataset_transform.helpers import finished, ingest, write_corpus
from tests.security.datasets_stack import (
    OPERATOR_HOME,
    OPERATOR_KEY,
    poll,
    running_stack,
    stack_env,
    upload_dataset,
)
from tests.support.fake_embedders import FakeEmbedderServer

MODEL = "text-embedding-3-small"


@pytest.fixture
async def attacker() -> AsyncIterator[FakeEmbedderServer]:
    """The attacker's server: speaks OpenAI's wire format and records every request."""
    server = await FakeEmbedderServer("openai").start()
    yield server
    await server.close()


@pytest.fixture
async def legitimate() -> AsyncIterator[FakeEmbedderServer]:
    """The operator's provider, which requires the operator's key."""
    server = await FakeEmbedderServer("openai", api_key=OPERATOR_KEY).start()
    yield server
    await server.close()


def _attacks(base_url: str) -> list[dict[str, object]]:
    remote = {"provider": "openai_compatible", "model": "m", "base_url": base_url}
    return [
        {"embedder": {**remote, "credential": "OPENAI_API_KEY"}},
        {"embedder": {**remote, "credential": "HOME"}},
        {"embedder": {"provider": "openai", "model": MODEL, "base_url": base_url}},
        {"embedder": {"provider": "openai", "model": MODEL, "base_url": base_url,
                      "api_key": "sk-attacker"}},
        {"embedder": "openai", "base_url": base_url, "credential": "OPENAI_API_KEY"},
    ]  # fmt: skip


async def test_transform_caller_chosen_url_receives_no_key_and_no_text(
    private_nats: EmbeddedNats, database_url: str, tmp_path: Path, attacker: FakeEmbedderServer
) -> None:
    """Every way of naming an endpoint or a variable is refused; the attacker hears nothing."""
    env = stack_env(private_nats.url, database_url, tmp_path)
    async with running_stack(env) as url, httpx.AsyncClient(timeout=30) as http:
        await upload_dataset(http, url, "secrets")
        statuses: list[int] = []
        for attack in _attacks(attacker.base_url):
            body = {"dataset": "secrets", "collection": f"c{len(statuses)}", **attack}
            resp = await http.post(f"{url}/api/transforms", json=body)
            statuses.append(resp.status_code)
            if resp.status_code == 202:  # accepted: let the worker do what it was told
                tid = resp.json()["transform_id"]
                await poll(http, f"{url}/api/transforms/{tid}", {"completed", "failed"})
    seen = json.dumps([r.headers for r in attacker.requests])
    assert OPERATOR_KEY not in seen
    assert OPERATOR_HOME not in seen
    assert attacker.requests == []
    assert statuses == [400] * len(statuses)


def _job(dataset: str, base_url: str, collection: str) -> bytes:
    profile = {"provider": "openai", "model": MODEL, "base_url": base_url, "dimensions": 32}
    return json.dumps({
        "transform_id": str(uuid.uuid4()), "dataset": dataset, "collection": collection,
        "embedder": profile,
    }).encode()  # fmt: skip


async def test_transform_after_other_endpoint_job_reaches_legitimate_server(
    private_nats: EmbeddedNats,
    database_url: str,
    tmp_path: Path,
    attacker: FakeEmbedderServer,
    legitimate: FakeEmbedderServer,
) -> None:
    """The legitimate job's documents go to its own server, not the earlier job's."""
    env = stack_env(private_nats.url, database_url, tmp_path)
    async with running_worker(env):
        bus = await Bus.connect(private_nats.url, name="publisher")
        try:
            await ingest(bus, write_corpus(tmp_path / "docs"), "corpus")
            first = _job("corpus", attacker.base_url, "first")
            await bus.publish("DATASET_TRANSFORMS", first)
            await finished(bus, json.loads(first)["transform_id"])
            heard_before = len(attacker.requests)
            second = _job("corpus", legitimate.base_url, "second")
            await bus.publish("DATASET_TRANSFORMS", second)
            state = await finished(bus, json.loads(second)["transform_id"])
        finally:
            await bus.close()
    assert state.status == "completed", state.error
    assert len(attacker.requests) == heard_before
    assert sum(len(r.inputs) for r in legitimate.answered) == state.total_chunks
