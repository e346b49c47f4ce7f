"""``dataset.query.embed``: the worker's request/reply embedding of texts."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats.errors
import pytest

from neuralbridge.core.bus import Bus

pytest.importorskip("sentence_transformers", reason="the local embedder needs the 'local' extra")

SUBJECT = "dataset.query.embed"


async def _ask(bus: Bus, body: bytes) -> Any:
    """Request and decode the reply; the worker subscribes just after declaring its streams."""
    for _ in range(100):
        try:
            return json.loads((await bus.nc.request(SUBJECT, body, timeout=60)).data)
        except nats.errors.NoRespondersError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"nothing answers {SUBJECT}")


async def test_embed_replies_one_384_dim_vector_per_text(
    worker: Callable[..., Any], client_bus: Bus
) -> None:
    """The default profile is the local all-MiniLM-L6-v2; vectors keep input order."""
    async with worker():
        reply = await _ask(client_bus, json.dumps({"texts": ["alpha", "beta", "alpha"]}).encode())
    vectors = reply["vectors"]
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert vectors[0] == pytest.approx(vectors[2])
    assert vectors[0] != pytest.approx(vectors[1])


async def test_embed_errors_are_replies(worker: Callable[..., Any], client_bus: Bus) -> None:
    """A malformed body, no texts, or a profile the worker cannot serve: ``{"error"}``."""
    bodies = [
        b"not json",
        json.dumps({"texts": []}).encode(),
        json.dumps({"texts": ["x"], "profile": {"provider": "local", "model": "nope"}}).encode(),
    ]
    async with worker():
        replies = [await _ask(client_bus, body) for body in bodies]
    assert all("error" in r and "vectors" not in r for r in replies), replies


async def test_embed_base64_matches_float_vectors(
    worker: Callable[..., Any], client_bus: Bus
) -> None:
    """``encoding: base64`` carries little-endian float32 bytes of the same vectors."""
    texts = ["alpha", "beta"]
    async with worker():
        floats = await _ask(client_bus, json.dumps({"texts": texts}).encode())
        packed = await _ask(client_bus, json.dumps({"texts": texts, "encoding": "base64"}).encode())
    decoded = [struct.unpack("<384f", base64.b64decode(v)) for v in packed["vectors"]]
    assert decoded[0] == pytest.approx(floats["vectors"][0], abs=1e-6)
    assert decoded[1] == pytest.approx(floats["vectors"][1], abs=1e-6)


async def test_embed_reply_over_payload_limit_is_error_reply(
    worker: Callable[..., Any], client_bus: Bus
) -> None:
    """2,048 float vectors exceed 1 MiB: the caller gets an error naming the limit at once."""
    texts = [f"text {i}" for i in range(2048)]
    async with worker():
        reply = await _ask(client_bus, json.dumps({"texts": texts}).encode())
    assert reply["code"] == "reply_too_large"
    assert "payload limit" in reply["error"]


async def test_embed_named_profile_and_unknown_name(
    worker: Callable[..., Any], client_bus: Bus
) -> None:
    """A configured name is served; another name is an error reply naming it."""
    async with worker():
        named = await _ask(client_bus, json.dumps({"texts": ["x"], "profile": "local"}).encode())
        unknown = await _ask(client_bus, json.dumps({"texts": ["x"], "profile": "evil"}).encode())
    assert len(named["vectors"][0]) == 384
    assert "unknown embedder profile 'evil'" in unknown["error"]


async def test_profiles_query_lists_names_only(
    worker: Callable[..., Any], client_bus: Bus, tmp_path: Path
) -> None:
    """``dataset.query.profiles``: the names, with no URL or variable name."""
    path = tmp_path / "profiles.toml"
    path.write_text(
        '[profiles.docs-tei]\nprovider = "tei"\nmodel = "bge"\n'
        'base_url = "http://tei.internal:8080"\n'
    )
    async with worker(EMBEDDER_PROFILES_FILE=str(path)):
        for _ in range(100):
            try:
                reply = await client_bus.nc.request("dataset.query.profiles", b"{}", timeout=10)
                break
            except nats.errors.NoRespondersError:
                await asyncio.sleep(0.1)
    names = json.loads(reply.data)["profiles"]
    assert "docs-tei" in names
    assert "local" in names
    assert "openai" in names
    assert "tei.internal" not in reply.data.decode()
    assert "OPENAI_API_KEY" not in reply.data.decode()
