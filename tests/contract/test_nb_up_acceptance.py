"""Hostile callers against `nb up` with user and admin keys: the safe answer every time.

One stack, started as a user would (embedded servers, the local embedder), with
an operator's OpenAI key in its environment and the primary LLM on a fake OpenAI
server, so every prompt the stack sends upstream is recorded. An "attacker"
server records anything sent to a URL a caller chose.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.contract.conftest import nb_up
from tests.support.fake_llm import FakeLLMServer
from tests.support.keys import ADMIN_KEY, KEYS, OTHER_USER_KEY, USER_KEY, bearer

OPERATOR_SECRET = "sk-operator-secret-0123456789abcdef"
#: Requests a minute per key and per session (the admin's checks stay under it).
LIMIT = 12


@pytest.fixture
async def attacker() -> AsyncIterator[FakeLLMServer]:
    """A server a hostile caller would like the stack to send keys and documents to."""
    server = await FakeLLMServer("openai", answer="thanks").start()
    yield server
    await server.close()


@pytest.mark.timeout(300)
async def test_nb_up_with_keys_gives_hostile_callers_nothing(
    tmp_path: Path, fakes: tuple[FakeLLMServer, FakeLLMServer], attacker: FakeLLMServer
) -> None:
    """Roles, secrets, long ids, sessions, bodies and embedding limits, against one stack."""
    openai, _ = fakes
    env = {
        **KEYS, "LLM_PROVIDER": "openai", "OPENAI_BASE_URL": openai.base_url,
        "OPENAI_API_KEY": OPERATOR_SECRET, "GATEWAY_RATE_LIMIT_PER_MINUTE": str(LIMIT),
        "GATEWAY_RATE_LIMIT_SYNC_SECONDS": "0",
    }  # fmt: skip
    async with nb_up(tmp_path, env) as url, httpx.AsyncClient(base_url=url, timeout=120) as http:
        await _user_key_cannot_manage_and_no_key_goes_to_a_chosen_url(http, attacker)
        await _long_ids_are_4xx_and_the_gateway_stays_ready(http)
        await _one_session_id_under_two_keys_is_two_sessions(http, openai)
        await _hostile_bodies_are_400(http)
        await _embeddings_serve_2048_inputs_and_refuse_2049(http)
    assert attacker.requests == []
    assert OPERATOR_SECRET not in (tmp_path / "up.log").read_text()


async def _user_key_cannot_manage_and_no_key_goes_to_a_chosen_url(
    http: httpx.AsyncClient, attacker: FakeLLMServer
) -> None:
    transform = {"dataset": "handbook", "collection": "knowledge"}
    user = await http.post("/api/transforms", json=transform, headers=bearer(USER_KEY))
    assert user.status_code == 403, user.text
    chosen = {
        **transform,
        "embedder": {"provider": "openai", "model": "m", "base_url": attacker.base_url},
    }
    admin = await http.post("/api/transforms", json=chosen, headers=bearer(ADMIN_KEY))
    assert admin.status_code == 400, admin.text
    assert admin.json()["error"]["param"] == "embedder"
    named = await http.post("/api/transforms", json=transform, headers=bearer(ADMIN_KEY))
    assert named.status_code == 202, named.text


async def _long_ids_are_4xx_and_the_gateway_stays_ready(http: httpx.AsyncClient) -> None:
    long_id = "x" * 4100
    for path in (f"/api/uploads/{long_id}", f"/api/transforms/{long_id}", f"/api/jobs/{long_id}"):
        resp = await http.get(path, headers=bearer(ADMIN_KEY))
        assert 400 <= resp.status_code < 500, (path[:20], resp.status_code)
    models = await http.get("/v1/models", headers=bearer(USER_KEY))
    assert models.status_code == 200


async def _one_session_id_under_two_keys_is_two_sessions(
    http: httpx.AsyncClient, openai: FakeLLMServer
) -> None:
    codename = f"Bluebird-{uuid.uuid4().hex[:8]}"
    first = {"query": f"My codename is {codename}. Who founded Acme?", "session_id": "shared"}
    owner = await http.post("/api/proxy/query", json=first, headers=bearer(USER_KEY))
    assert owner.status_code == 200, owner.text
    before = len(openai.requests)
    follow = {"query": "Which codename did I give you?", "session_id": "shared"}
    other = await http.post("/api/proxy/query", json=follow, headers=bearer(OTHER_USER_KEY))
    assert other.status_code == 200, other.text
    assert codename not in "".join(json.dumps(r.body) for r in openai.requests[before:])
    # The owner spends its session's bucket; the other key's session is its own.
    statuses = [
        (await http.post("/api/proxy/query", json=follow, headers=bearer(USER_KEY))).status_code
        for _ in range(LIMIT)
    ]
    assert statuses[-1] == 429
    again = await http.post("/api/proxy/query", json=follow, headers=bearer(OTHER_USER_KEY))
    assert again.status_code == 200, again.text


async def _hostile_bodies_are_400(http: httpx.AsyncClient) -> None:
    deep = b'{"query": "x", "session_id": "s", "model": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    invalid = b'{"query": "caf\xe9 \xff", "session_id": "s"}'
    headers = {**bearer(ADMIN_KEY), "Content-Type": "application/json"}
    for body in (deep, invalid):
        resp = await http.post("/api/proxy/query", content=body, headers=headers)
        assert resp.status_code == 400, resp.text


async def _embeddings_serve_2048_inputs_and_refuse_2049(http: httpx.AsyncClient) -> None:
    texts = [f"document number {n} about rockets" for n in range(2049)]
    ok = await http.post(
        "/v1/embeddings", json={"model": "neuralbridge", "input": texts[:2048]},
        headers=bearer(ADMIN_KEY),
    )  # fmt: skip
    assert ok.status_code == 200, ok.text[:300]
    assert len(ok.json()["data"]) == 2048
    over = await http.post(
        "/v1/embeddings", json={"model": "neuralbridge", "input": texts},
        headers=bearer(ADMIN_KEY),
    )  # fmt: skip
    assert over.status_code == 400
    assert over.json()["error"]["param"] == "input"
