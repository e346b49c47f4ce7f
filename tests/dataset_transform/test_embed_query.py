"""``dataset.query.embed``: the worker's request/reply embedding of texts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from neuralbridge.core.bus import Bus

pytest.importorskip("sentence_transformers", reason="the local embedder needs the 'local' extra")

SUBJECT = "dataset.query.embed"


async def test_embed_replies_one_384_dim_vector_per_text(
    worker: Callable[..., Any], client_bus: Bus
) -> None:
    """The default profile is the local all-MiniLM-L6-v2; vectors keep input order."""
    async with worker():
        reply = await client_bus.nc.request(
            SUBJECT, json.dumps({"texts": ["alpha", "beta", "alpha"]}).encode(), timeout=60
        )
    vectors = json.loads(reply.data)["vectors"]
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
        replies = [
            json.loads((await client_bus.nc.request(SUBJECT, body, timeout=30)).data)
            for body in bodies
        ]
    assert all("error" in r and "vectors" not in r for r in replies), replies
