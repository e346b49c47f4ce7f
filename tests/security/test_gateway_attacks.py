"""Attacks on the gateway, each written as the attacker would try it.

Each test reproduces a finding of the hostile-caller review against the real
gateway (and, where the attack needs one, the real proxy pipeline with fake
providers), and asserts the gateway's answer is the safe one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client import REGISTRY, generate_latest
from websockets.asyncio.client import connect

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.subjects import QUERY_LOGS_STREAM
from tests.gateway.conftest import TEST_PII_HASH_KEY
from tests.support.fake_llm import FakeLLMServer
from tests.support.keys import ADMIN_KEY, KEYS, OTHER_USER_KEY, USER_KEY, bearer


async def test_second_key_continuing_first_keys_session_gets_none_of_its_history(
    serve: Callable[..., Any], primary: FakeLLMServer
) -> None:
    """Key B sending key A's session_id starts a conversation of its own (finding H3)."""
    secret = f"Bluebird-{uuid.uuid4().hex[:8]}"
    first = {"query": f"My codename is {secret}. Who founded Acme Rockets?", "session_id": "s-1"}
    follow_up = {"query": "What codename did I tell you?", "session_id": "s-1"}
    async with serve(**KEYS) as url, httpx.AsyncClient(timeout=30) as http:
        owner = await http.post(f"{url}/api/proxy/query", json=first, headers=bearer(USER_KEY))
        assert owner.status_code == 200
        before = len(primary.requests)
        stranger = await http.post(
            f"{url}/api/proxy/query", json=follow_up, headers=bearer(OTHER_USER_KEY)
        )
    assert stranger.status_code == 200
    assert secret not in "\n".join(json.dumps(r.body) for r in primary.requests[before:])
    assert secret not in stranger.text


async def test_session_id_known_to_another_key_cannot_lock_its_owner_out(
    serve: Callable[..., Any],
) -> None:
    """Exhausting a session's bucket with another key leaves the owner's session alone (M4)."""
    body = {"query": "Who founded Acme Rockets?", "session_id": "victim-session"}
    env = {**KEYS, "GATEWAY_RATE_LIMIT_PER_MINUTE": "2", "GATEWAY_RATE_LIMIT_SYNC_SECONDS": "0"}
    async with serve(**env) as url, httpx.AsyncClient(timeout=30) as http:
        attack = [
            (await http.post(f"{url}/api/proxy/query", json=body, headers=bearer(USER_KEY)))
            for _ in range(3)
        ]
        owner = await http.post(f"{url}/api/proxy/query", json=body, headers=bearer(ADMIN_KEY))
    assert attack[-1].status_code == 429  # the attacker spent its own key's tokens
    assert owner.status_code == 200


async def test_user_key_cannot_start_a_transform_or_read_jobs(serve: Callable[..., Any]) -> None:
    """With user and admin keys configured, a user key gets 403 on admin routes (H4)."""
    transform = {"dataset": "handbook", "collection": "knowledge"}
    async with serve(pipeline=False, **KEYS) as url, httpx.AsyncClient(timeout=30) as http:
        refused = await http.post(f"{url}/api/transforms", json=transform, headers=bearer(USER_KEY))
        anonymous = await http.post(f"{url}/api/transforms", json=transform)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "admin_key_required"
    assert anonymous.status_code == 401


def test_serve_gateway_without_keys_exits_with_one_line() -> None:
    """`nb serve gateway` with no key and no GATEWAY_AUTH=off refuses to start (H4)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") and k != "NB_ENV_FILE"
    }
    env |= {
        "NATS_URL": "nats://127.0.0.1:1",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "PII_HASH_KEY": TEST_PII_HASH_KEY,
        "NB_ENV_FILE": os.devnull,
    }
    done = subprocess.run(
        [sys.executable, "-m", "neuralbridge.cli.main", "serve", "gateway"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2
    assert len(lines) == 1
    assert "GATEWAY_AUTH=off" in lines[0]
    assert "GATEWAY_API_KEY_HASHES" in lines[0]


async def test_hostile_bodies_are_400_or_415_never_500(serve: Callable[..., Any]) -> None:
    """Deep nesting, invalid UTF-8 and a wrong Content-Type are refused by name (M5)."""
    deep = b'{"query": "x", "session_id": "s", "model": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    not_utf8 = b'{"query": "\xff\xfe caf\xe9", "session_id": "s"}'
    json_type = {"Content-Type": "application/json"}
    routes = ("/api/proxy/query", "/v1/chat/completions", "/api/feedback", "/v1/embeddings")
    async with serve(pipeline=False) as url, httpx.AsyncClient(timeout=30) as http:
        for route in routes:
            nested = await http.post(f"{url}{route}", content=deep, headers=json_type)
            invalid = await http.post(f"{url}{route}", content=not_utf8, headers=json_type)
            plain = await http.post(
                f"{url}{route}", content=b'{"query": "hi"}', headers={"Content-Type": "text/plain"}
            )
            # Where the route's body has no such field, the unknown field is found first.
            assert nested.status_code == 400
            assert nested.json()["error"]["code"] in ("json_too_deep", "invalid_request")
            assert invalid.status_code == 400
            assert invalid.json()["error"]["code"] in ("invalid_utf8", "invalid_request")
            assert plain.status_code == 415
            assert plain.json()["error"]["param"] == "Content-Type"
        ready = await http.get(f"{url}/readyz")
    assert ready.status_code == 200


async def test_binary_frame_of_invalid_utf8_is_an_error_event_and_socket_stays_open(
    serve: Callable[..., Any],
) -> None:
    """A binary WebSocket frame that is not UTF-8 is answered, not a 4500 close (L4)."""
    async with (
        serve(pipeline=False) as url,
        connect(f"{url.replace('http', 'ws', 1)}/api/proxy/stream") as ws,
    ):
        await ws.send(b'{"query": "\xff", "session_id": "s"}')
        event = json.loads(await ws.recv())
        await ws.send('{"query": "", "session_id": "s"}')
        second = json.loads(await ws.recv())
    assert (event["type"], event["status"], event["error"]["code"]) == (
        "error",
        400,
        "invalid_utf8",
    )
    assert (second["type"], second["status"]) == ("error", 400)  # still open: answered


async def test_caller_chosen_model_never_becomes_a_metric_label(
    serve: Callable[..., Any],
) -> None:
    """A model name in a request is counted as ``other``, so callers cannot add series (L1)."""
    chosen = f"attacker-{uuid.uuid4().hex}"
    body = {"query": "Who founded Acme Rockets?", "session_id": "s", "model": chosen}
    async with serve() as url, httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(f"{url}/api/proxy/query", json=body)
    assert answer.status_code == 200
    assert chosen not in generate_latest(REGISTRY).decode()


async def test_session_id_and_user_never_reach_query_logs_raw(
    serve: Callable[..., Any], pipeline_nats: EmbeddedNats
) -> None:
    """A session id or OpenAI ``user`` holding PII is stored only as a keyed hash (M3)."""
    email, phone = "maria.silva@example.com", "+55 11 91234-5678"
    query = {"query": "Who founded Acme Rockets?", "session_id": email}
    chat = {"model": "neuralbridge", "user": phone,
            "messages": [{"role": "user", "content": "Who founded Acme Rockets?"}]}  # fmt: skip
    async with serve() as url, httpx.AsyncClient(timeout=30) as http:
        assert (await http.post(f"{url}/api/proxy/query", json=query)).status_code == 200
        assert (await http.post(f"{url}/v1/chat/completions", json=chat)).status_code == 200
    bus = await Bus.connect(pipeline_nats.url, name="query-log-reader")
    try:
        logged = [await bus.js.get_msg(QUERY_LOGS_STREAM, seq) for seq in (1, 2)]
    finally:
        await bus.close()
    sessions = [json.loads(m.data)["session_id"] for m in logged]
    assert all(re.fullmatch(r"[0-9a-f]{32}", s) for s in sessions), sessions
    for message in logged:
        assert email.encode() not in message.data
        assert b"91234" not in message.data
