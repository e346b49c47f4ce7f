"""``dataset.query.embed``: the worker's request/reply embedding of texts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
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
