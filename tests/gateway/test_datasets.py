"""Datasets through the gateway: uploads, transforms, the list, and ``/v1/embeddings``.

The gateway runs next to the real dataset-transform worker (its composition
root, in-process, ``tests/dataset_transform/conftest.py``) on this test's NATS
and database; the worker's Qdrant is a local-mode directory of its own.
"""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.dataset_transform.conftest import running_worker

pytest.importorskip("sentence_transformers", reason="the local embedder needs the 'local' extra")

DOC = "# Acme Rockets\n\n" + "Acme Rockets builds reusable launch vehicles in Lisbon. " * 40


@pytest.fixture
def served(
    serve: Callable[..., Any], pipeline_env: dict[str, str], tmp_path: Path
) -> Callable[..., Any]:
    """``async with served(**env) as url:`` runs the worker, then the gateway (no pipeline)."""

    @asynccontextmanager
    async def start(**overrides: str) -> AsyncIterator[str]:
        worker_env = {
            **pipeline_env, "QDRANT_PATH": str(tmp_path / "worker-qdrant"),
            "RETRY_SCHEDULE": "0.3,0.3,0.3", "EMBEDDING_BATCH_SIZE": "8",
            "MAX_EMBEDDER_REQUESTS_PER_SECOND": "1000",
        }  # fmt: skip
        async with running_worker(worker_env), serve(pipeline=False, **overrides) as url:
            yield url

    return start


async def _poll(http: httpx.AsyncClient, url: str, until: set[str], timeout: float = 90) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        resp = await http.get(url)
        if resp.status_code == 200 and resp.json()["status"] in until:
            return resp.json()
        assert asyncio.get_running_loop().time() < deadline, resp.text
        await asyncio.sleep(0.2)


async def test_upload_transform_and_list(served: Callable[..., Any]) -> None:
    """A .md upload is ingested, a transform embeds it, the dataset is listed."""
    async with served() as url, httpx.AsyncClient(timeout=60) as http:
        resp = await http.post(
            f"{url}/api/datasets/acme/documents",
            files=[("files", ("acme.md", DOC.encode(), "text/markdown"))],
            data={"metadata": '{"team": "docs"}'},
        )
        assert resp.status_code == 202, resp.text
        [accepted] = resp.json()
        assert accepted["filename"] == "acme.md"
        state = await _poll(http, f"{url}/api/uploads/{accepted['upload_id']}", {"done", "failed"})
        assert state["status"] == "done", state
        assert state["chunks"] > 0

        resp = await http.post(
            f"{url}/api/transforms", json={"dataset": "acme", "collection": "acme_minilm"}
        )
        assert resp.status_code == 202, resp.text
        tid = resp.json()["transform_id"]
        done = await _poll(http, f"{url}/api/transforms/{tid}", {"completed", "failed"})
        assert done["status"] == "completed", done
        assert done["points"] == state["chunks"]

        listed = (await http.get(f"{url}/api/datasets")).json()
    assert any(r["name"] == "acme" and r["chunks"] == state["chunks"] for r in listed), listed


async def test_unsupported_suffix_is_400_naming_the_file(served: Callable[..., Any]) -> None:
    """Nothing is uploaded when one file's type is not supported."""
    async with served() as url, httpx.AsyncClient() as http:
        resp = await http.post(
            f"{url}/api/datasets/acme/documents",
            files=[
                ("files", ("ok.md", b"# fine", "text/markdown")),
                ("files", ("evil.exe", b"MZ", "application/octet-stream")),
            ],
        )
    assert resp.status_code == 400, resp.text
    assert "evil.exe" in resp.json()["error"]["message"]
    assert resp.json()["error"]["param"] == "evil.exe"


async def test_upload_over_the_body_limit_is_413(served: Callable[..., Any]) -> None:
    """``GATEWAY_MAX_BODY_BYTES`` bounds uploads too."""
    async with served(GATEWAY_MAX_BODY_BYTES="2000") as url, httpx.AsyncClient() as http:
        resp = await http.post(
            f"{url}/api/datasets/acme/documents",
            files=[("files", ("big.md", b"x" * 5000, "text/markdown"))],
        )
    assert resp.status_code == 413, resp.text
    assert resp.json()["error"]["code"] == "request_too_large"


async def test_unknown_upload_and_transform_are_404(served: Callable[..., Any]) -> None:
    """Ids no KV bucket knows."""
    async with served() as url, httpx.AsyncClient() as http:
        upload = await http.get(f"{url}/api/uploads/00000000-0000-0000-0000-000000000000")
        transform = await http.get(f"{url}/api/transforms/00000000-0000-0000-0000-000000000000")
    assert upload.status_code == 404
    assert upload.json()["error"]["param"] == "upload_id"
    assert transform.status_code == 404
    assert transform.json()["error"]["param"] == "transform_id"


async def test_openai_sdk_embeddings(served: Callable[..., Any]) -> None:
    """``client.embeddings.create`` gets one 384-dim vector per input; other models are 400."""
    async with served() as url:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        try:
            result = await client.embeddings.create(
                model="neuralbridge", input=["hello world", "rockets in Lisbon"]
            )
            single = await client.embeddings.create(
                model="local", input="one", encoding_format="float"
            )
            with pytest.raises(openai.BadRequestError) as refused:
                await client.embeddings.create(model="text-embedding-3-small", input="x")
        finally:
            await client.close()
    assert [d.index for d in result.data] == [0, 1]
    assert all(len(d.embedding) == 384 for d in result.data)
    assert result.usage.prompt_tokens == 5
    assert len(single.data[0].embedding) == 384
    assert refused.value.param == "model"


async def test_transform_names_profile_and_refuses_endpoints(served: Callable[..., Any]) -> None:
    """``embedder`` is a profile name: URLs and credentials are 400s, unknown names 422."""
    bodies: dict[str, dict[str, Any]] = {
        "object": {"embedder": {"provider": "openai", "model": "m",
                                "base_url": "http://127.0.0.1:9/v1", "credential": "HOME"}},
        "base_url": {"base_url": "http://127.0.0.1:9/v1"},
        "credential": {"credential": "OPENAI_API_KEY"},
        "unknown": {"embedder": "attacker"},
    }  # fmt: skip
    base = {"dataset": "acme", "collection": "acme_minilm"}
    async with served() as url, httpx.AsyncClient(timeout=30) as http:
        named = await http.post(f"{url}/api/transforms", json={**base, "embedder": "local"})
        refused = {
            k: await http.post(f"{url}/api/transforms", json={**base, **v})
            for k, v in bodies.items()
        }
    assert named.status_code == 202, named.text
    statuses = {k: r.status_code for k, r in refused.items()}
    assert statuses == {"object": 400, "base_url": 400, "credential": 400, "unknown": 422}
    assert refused["object"].json()["error"]["param"] == "embedder"
    unknown = refused["unknown"].json()["error"]
    assert unknown["param"] == "embedder"
    assert "local" in unknown["message"]
    assert "openai" in unknown["message"]


async def test_transform_chunk_without_document_is_400(served: Callable[..., Any]) -> None:
    """A job the worker could only refuse is refused at once, naming the field."""
    body = {"dataset": "acme", "collection": "c", "chunk_index": 2}
    async with served() as url, httpx.AsyncClient() as http:
        resp = await http.post(f"{url}/api/transforms", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == "chunk_index"


async def test_long_ids_are_400_and_gateway_stays_ready(served: Callable[..., Any]) -> None:
    """4,100-character ids never reach NATS: 400 naming the id, then business as usual."""
    long_id = "a" * 4100
    async with served() as url, httpx.AsyncClient() as http:
        upload = await http.get(f"{url}/api/uploads/{long_id}")
        transform = await http.get(f"{url}/api/transforms/{long_id}")
        ready = await http.get(f"{url}/readyz")
        after = await http.get(f"{url}/api/uploads/00000000-0000-0000-0000-000000000000")
    assert (upload.status_code, upload.json()["error"]["param"]) == (400, "upload_id")
    assert (transform.status_code, transform.json()["error"]["param"]) == (400, "transform_id")
    assert ready.status_code == 200, ready.text
    assert after.status_code == 404


async def test_embeddings_serve_2048_inputs_and_refuse_2049(served: Callable[..., Any]) -> None:
    """The documented limit is answered in order (floats and base64); one more is 400."""
    texts = [f"input number {i}" for i in range(2048)]
    async with served() as url, httpx.AsyncClient(timeout=120) as http:
        full = await http.post(
            f"{url}/v1/embeddings", json={"model": "neuralbridge", "input": texts}
        )
        packed = await http.post(
            f"{url}/v1/embeddings",
            json={"model": "neuralbridge", "input": texts[:3], "encoding_format": "base64"},
        )
        over = await http.post(
            f"{url}/v1/embeddings", json={"model": "neuralbridge", "input": [*texts, "x"]}
        )
    assert full.status_code == 200, full.text[:500]
    data = full.json()["data"]
    assert [d["index"] for d in data] == list(range(2048))
    assert all(len(d["embedding"]) == 384 for d in data)
    first = base64.b64decode(packed.json()["data"][0]["embedding"])
    # Another batch composition moves the last float32 digits only.
    assert struct.unpack("<384f", first) == pytest.approx(data[0]["embedding"], abs=1e-5)
    assert (over.status_code, over.json()["error"]["param"]) == (400, "input")
