"""The dataset-transform worker and the gateway side by side, for the datasets attacks.

Both run their real composition roots in this test's process, on this test's
own nats-server and database; fake embedding providers play the operator's
provider and the attacker's server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.dataset_transform.conftest import running_worker
from tests.gateway.conftest import running_gateway

#: What the operator's environment holds and no caller may ever receive.
OPERATOR_KEY = "sk-operator-9f3c1a7e5d2b"
OPERATOR_HOME = "/home/operator-7c1e"
DOC = "# Launch notes\n\n" + "The quarterly launch plan is confidential. " * 30


def stack_env(nats_url: str, database_url: str, tmp_path: Path) -> dict[str, str]:
    """Test servers, second-long retries, and the operator's secrets in the environment."""
    return {
        "NATS_URL": nats_url, "DATABASE_URL": database_url,
        "QDRANT_PATH": str(tmp_path / "qdrant"), "RETRY_SCHEDULE": "0.3,0.3",
        "MAX_RETRIES": "2", "EMBEDDING_BATCH_SIZE": "8", "EMBEDDER_MAX_RETRIES": "0",
        "EMBEDDER_RETRY_DELAY_MS": "10", "MAX_EMBEDDER_REQUESTS_PER_SECOND": "1000",
        "LOG_LEVEL": "warning", "OPENAI_API_KEY": OPERATOR_KEY, "HOME": OPERATOR_HOME,
    }  # fmt: skip


@asynccontextmanager
async def running_stack(env: dict[str, str]) -> AsyncIterator[str]:
    """The worker, then the gateway; yields the gateway's URL."""
    async with running_worker(env), running_gateway(env) as url:
        yield url


async def poll(http: httpx.AsyncClient, url: str, until: set[str], timeout: float = 60) -> Any:
    """GET ``url`` until its ``status`` is one of ``until``; return the body."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        resp = await http.get(url)
        if resp.status_code == 200 and resp.json()["status"] in until:
            return resp.json()
        assert asyncio.get_running_loop().time() < deadline, resp.text
        await asyncio.sleep(0.2)


async def upload_dataset(http: httpx.AsyncClient, url: str, dataset: str) -> int:
    """Upload one document into ``dataset`` and wait for its chunks; return how many."""
    resp = await http.post(
        f"{url}/api/datasets/{dataset}/documents",
        files=[("files", ("notes.md", DOC.encode(), "text/markdown"))],
    )
    assert resp.status_code == 202, resp.text
    upload_id = resp.json()[0]["upload_id"]
    state = await poll(http, f"{url}/api/uploads/{upload_id}", {"done", "failed"})
    assert state["status"] == "done", state
    return int(state["chunks"])
