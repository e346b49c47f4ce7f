"""Attacks on the datasets surface: oversized ids, oversized embedding requests, bad jobs.

H1 (ids): a 4,100-character upload or transform id must be refused before it
reaches a NATS subject, and the gateway must stay ready. M1: the documented
2,048 embedding inputs are answered (replies split under the NATS payload
limit). L5: 100,000 inputs are a 400, not a 502. L3: a transform that can
only fail is refused with 400, not accepted and retried.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from neuralbridge.core.embedded import EmbeddedNats
from tests.security.datasets_stack import running_stack, stack_env

pytest.importorskip("sentence_transformers", reason="the local embedder needs the 'local' extra")


@pytest.fixture
def stack(private_nats: EmbeddedNats, database_url: str, tmp_path: Path) -> Callable[[], Any]:
    """``async with stack() as url:`` runs the worker and the gateway."""
    return lambda: running_stack(stack_env(private_nats.url, database_url, tmp_path))


@pytest.mark.parametrize(("route", "param"), [("uploads", "upload_id"),
                                               ("transforms", "transform_id")])  # fmt: skip
async def test_get_4100_character_id_is_400_and_gateway_stays_ready(
    stack: Callable[[], Any], route: str, param: str
) -> None:
    """The id never becomes a KV subject; NATS routes keep working afterwards."""
    async with stack() as url, httpx.AsyncClient(timeout=30) as http:
        attack = await http.get(f"{url}/api/{route}/{'a' * 4100}")
        ready = await http.get(f"{url}/readyz")
        listed = await http.get(f"{url}/api/datasets")
    assert attack.status_code == 400, attack.text
    assert attack.json()["error"]["param"] == param
    assert ready.status_code == 200, ready.text
    assert listed.status_code == 200, listed.text


async def test_embeddings_2048_inputs_are_answered(stack: Callable[[], Any]) -> None:
    """The documented limit fits: every input gets its vector, in order."""
    texts = [f"document {i} about launch plans" for i in range(2048)]
    async with stack() as url, httpx.AsyncClient(timeout=120) as http:
        resp = await http.post(
            f"{url}/v1/embeddings", json={"model": "neuralbridge", "input": texts}
        )
    assert resp.status_code == 200, resp.text[:300]
    assert [d["index"] for d in resp.json()["data"]] == list(range(2048))


async def test_embeddings_100000_inputs_are_400_naming_input(stack: Callable[[], Any]) -> None:
    """Far over the limit is the caller's error, refused before the worker is asked."""
    async with stack() as url, httpx.AsyncClient(timeout=60) as http:
        resp = await http.post(
            f"{url}/v1/embeddings", json={"model": "neuralbridge", "input": ["x"] * 100_000}
        )
    assert resp.status_code == 400, resp.text[:300]
    assert resp.json()["error"]["param"] == "input"


async def test_embeddings_input_over_model_limit_is_400(stack: Callable[[], Any]) -> None:
    """One input far past the model's token limit is refused, naming ``input``."""
    async with stack() as url, httpx.AsyncClient(timeout=60) as http:
        resp = await http.post(
            f"{url}/v1/embeddings", json={"model": "neuralbridge", "input": ["word " * 40_000]}
        )
    assert resp.status_code == 400, resp.text[:300]
    assert resp.json()["error"]["param"] == "input[0]"  # the one input at fault


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"chunk_index": 3}, "chunk_index"), ({"switch_alias": "bad alias/../x"}, "switch_alias"),
     ({"dataset": "a b"}, "dataset")],
)  # fmt: skip
async def test_transform_that_can_only_fail_is_400(
    stack: Callable[[], Any], extra: dict[str, object], param: str
) -> None:
    """Refused at once, naming the field, instead of accepted and retried by the worker."""
    body = {"dataset": "corpus", "collection": "docs", **extra}
    async with stack() as url, httpx.AsyncClient(timeout=30) as http:
        resp = await http.post(f"{url}/api/transforms", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == param
