"""The question routes' fast path: what it takes, and what it hands to Litestar untouched.

The wrapped app here records what reaches it, so each test shows which side
answered. The proxy client is real, on this test's nats-server with no
``PROXY_REQUESTS`` stream: a request the fast path takes fails to queue (503),
which also shows a pipeline error answered by the fast path in the gateway's
error shape. The routes' full behaviour through both sides is covered by
``test_query.py``, ``test_openai.py``, ``test_validation.py`` and ``test_access.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar.types import Receive, Scope, Send

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.gateway.access import Access, Caller
from neuralbridge.gateway.fastpath import fast_routes
from neuralbridge.gateway.proxy_client import ProxyClient
from neuralbridge.gateway.ratelimit import RateLimiter
from neuralbridge.gateway.settings import KeyRing

CHAT = {"model": "neuralbridge", "messages": [{"role": "user", "content": "Who founded Acme?"}]}
QUERY = {"query": "Who founded Acme?", "session_id": "s1"}
KEY = "nb-test-key-0123456789"


class Recorder:
    """The wrapped app: answers 299 with the body it received."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")  # type: ignore[operator]
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": body, "more_body": False})


@pytest.fixture
async def bus(private_nats: EmbeddedNats) -> AsyncIterator[Bus]:
    """A connection to this test's nats-server (no stream declared)."""
    bus = await Bus.connect(private_nats.url, name="fastpath-test")
    yield bus
    await bus.close()


SECRET = b"fastpath-test-session-secret-0123456789"


def ring(digests: frozenset[str]) -> KeyRing:
    """User keys with these digests (empty: keys off)."""
    return KeyRing(users={bytes.fromhex(d): d[:12] for d in digests}, admins={})


def wrap(
    bus: Bus, *, keys: frozenset[str] = frozenset(), per_minute: int = 0, max_body: int = 4096
) -> tuple[Any, Recorder]:
    """The fast path around a recorder, with a real proxy client."""
    inner = Recorder()
    access = Access(ring(keys), RateLimiter(per_minute), session_secret=SECRET)
    proxy = ProxyClient(bus, timeout=2.0, access=access)
    return fast_routes(inner, proxy=proxy, access=access, max_body_bytes=max_body), inner


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


@pytest.mark.parametrize(
    ("path", "body"), [("/v1/chat/completions", CHAT), ("/api/proxy/query", QUERY)]
)
async def test_well_formed_question_is_taken_and_pipeline_error_is_its_reply(
    bus: Bus, path: str, body: dict[str, Any]
) -> None:
    """A plain question never reaches Litestar; failing to queue it is a 503 in the error shape."""
    app, inner = wrap(bus)
    async with client(app) as http:
        resp = await http.post(path, json=body)
    assert inner.bodies == []
    assert resp.status_code == 503
    assert resp.headers["content-type"] == "application/json"
    error = resp.json()["error"]
    assert error["type"] == "api_error"
    assert "could not be queued" in error["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", b'{"model": "neuralbridge", "messages": ['),  # malformed JSON
        ("/v1/chat/completions", json.dumps({**CHAT, "stream": True}).encode()),  # SSE
        ("/v1/chat/completions", json.dumps({**CHAT, "temperature": "hot"}).encode()),
        ("/v1/chat/completions", json.dumps({**CHAT, "messages": []}).encode()),
        (
            "/v1/chat/completions",  # no user message: to_ask refuses it
            json.dumps({**CHAT, "messages": [{"role": "system", "content": "x"}]}).encode(),
        ),
        ("/api/proxy/query", json.dumps({**QUERY, "unknown": 1}).encode()),
        ("/api/proxy/query", json.dumps({"session_id": "s1"}).encode()),
    ],
)
async def test_anything_unusual_goes_to_litestar_with_its_body(
    bus: Bus, path: str, body: bytes
) -> None:
    """Litestar gets the request, body intact, and gives its own refusal or stream."""
    app, inner = wrap(bus)
    async with client(app) as http:
        resp = await http.post(path, content=body)
    assert resp.status_code == 299
    assert inner.bodies == [body]


async def test_other_routes_and_methods_go_to_litestar(bus: Bus) -> None:
    """Only POST to the two exact paths is taken."""
    app, inner = wrap(bus)
    async with client(app) as http:
        statuses = [
            (await http.get("/v1/chat/completions")).status_code,
            (await http.post("/v1/chat/completions/", json=CHAT)).status_code,
            (await http.post("/v1/embeddings", json={"input": "x"})).status_code,
        ]
    assert statuses == [299, 299, 299]
    assert len(inner.bodies) == 3


async def test_body_over_the_limit_goes_to_litestar_whole(bus: Bus) -> None:
    """Declared too long: not read. Sent without a length: what was read, then the rest."""
    app, inner = wrap(bus, max_body=64)
    big = json.dumps({**QUERY, "query": "x" * 200}).encode()
    async with client(app) as http:
        resp = await http.post("/api/proxy/query", content=big)
    assert resp.status_code == 299
    assert inner.bodies == [big]

    chunks = [big[:40], big[40:100], big[100:]]
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> Any:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/api/proxy/query", "headers": [],
        "client": ("127.0.0.1", 1), "query_string": b"", "root_path": "",
    }  # fmt: skip
    await app(scope, receive, send)
    assert sent[0]["status"] == 299
    assert inner.bodies[-1] == big


async def test_caller_refused_by_key_or_limit_goes_to_litestar(bus: Bus) -> None:
    """A missing or wrong key, or an empty bucket, is Litestar's to refuse; no token is lost."""
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    app, inner = wrap(bus, keys=frozenset({digest}), per_minute=2)
    async with client(app) as http:
        missing = await http.post("/api/proxy/query", json=QUERY)
        wrong = await http.post(
            "/api/proxy/query", json=QUERY, headers={"Authorization": "Bearer nope"}
        )
        good = {"Authorization": f"Bearer {KEY}"}
        taken = [(await http.post("/api/proxy/query", json=QUERY, headers=good)) for _ in range(2)]
        limited = await http.post("/api/proxy/query", json=QUERY, headers=good)
    assert (missing.status_code, wrong.status_code) == (299, 299)
    assert [r.status_code for r in taken] == [503, 503]  # the fast path's: two tokens
    assert limited.status_code == 299  # the third: Litestar's hook says 429
    assert len(inner.bodies) == 3


async def test_session_over_its_limit_is_429_from_the_fast_path(bus: Bus) -> None:
    """The session bucket is checked as the request is published: 429 with Retry-After."""
    digest = hashlib.sha256(b"nb-key-one-0123456789").hexdigest()
    access = Access(ring(frozenset({digest})), RateLimiter(1), session_secret=SECRET)
    access.admit_session(access.session_key(Caller(f"key:{digest[:12]}", admin=False), "s1"))
    inner = Recorder()
    proxy = ProxyClient(bus, timeout=2.0, access=access)
    app = fast_routes(inner, proxy=proxy, access=access, max_body_bytes=4096)
    async with client(app) as http:
        limited = await http.post(
            "/api/proxy/query",
            json=QUERY,
            headers={"Authorization": "Bearer nb-key-one-0123456789"},
        )
    assert limited.status_code == 429  # the key had a token, its session "s1" had none
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert inner.bodies == []


async def test_same_session_id_under_two_keys_is_two_buckets(bus: Bus) -> None:
    """Two keys sending one session id each get their own session bucket: no lock-out."""
    keys = ("nb-key-one-0123456789", "nb-key-two-0123456789")
    digests = frozenset(hashlib.sha256(k.encode()).hexdigest() for k in keys)
    access = Access(ring(digests), RateLimiter(1), session_secret=SECRET)
    inner = Recorder()
    proxy = ProxyClient(bus, timeout=2.0, access=access)
    app = fast_routes(inner, proxy=proxy, access=access, max_body_bytes=4096)
    async with client(app) as http:
        first, second = [
            await http.post(
                "/api/proxy/query", json=QUERY, headers={"Authorization": f"Bearer {k}"}
            )
            for k in keys
        ]
    assert first.status_code == 503  # taken, then no pipeline stream to queue it on
    assert second.status_code == 503  # the same session id, another principal's bucket
