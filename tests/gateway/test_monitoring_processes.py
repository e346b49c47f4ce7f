"""Stats and health across processes: a pipeline replica in its own process counts too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from qdrant_client import AsyncQdrantClient

from tests.gateway.conftest import running_gateway
from tests.proxy_pipeline.conftest import running_pipeline, seed_collection
from tests.support.services import service_process
from tests.support.waiting import eventually

QUERIES = [f"Who founded Acme Rockets, question {n}?" for n in range(6)]


async def _seeded(path: Path) -> str:
    qdrant = AsyncQdrantClient(path=str(path))  # seeded before the other process opens it
    try:
        await seed_collection(qdrant)
    finally:
        await qdrant.close()
    return str(path)


@pytest.mark.slow
@pytest.mark.timeout(240)  # a cold pipeline process on a loaded 2-core machine
async def test_stats_with_replica_in_other_process_sums_both_registries(
    pipeline_env: dict[str, str], tmp_path: Path
) -> None:
    """One replica here, one in `nb serve proxy_pipeline`: every query counted exactly once."""
    other = {**pipeline_env, "QDRANT_PATH": await _seeded(tmp_path / "qdrant-other")}
    async with running_pipeline(pipeline_env), running_gateway(pipeline_env) as url:
        with service_process("proxy_pipeline", other, tmp_path / "other.log"):
            async with httpx.AsyncClient(timeout=90) as http:

                async def both_beat() -> bool:
                    services = (await http.get(f"{url}/api/proxy/health")).json()["services"]
                    return bool(services.get("proxy_pipeline", {}).get("replicas") == 2)

                await eventually(both_beat, timeout=90)
                before = (await http.get(f"{url}/api/proxy/stats")).json()
                for query in QUERIES:
                    body = {"query": query, "session_id": query}
                    assert (await http.post(f"{url}/api/proxy/query", json=body)).status_code == 200
                after: dict[str, Any] = {}

                async def counted() -> bool:
                    after.update((await http.get(f"{url}/api/proxy/stats")).json())
                    return bool(after["requests_total"] - before["requests_total"] >= len(QUERIES))

                await eventually(counted, timeout=30)
                health = (await http.get(f"{url}/api/proxy/health")).json()
    assert (before["replicas"], after["replicas"]) == (2, 2)
    assert after["requests_total"] - before["requests_total"] == len(QUERIES)
    assert after["cache_lookups"] - before["cache_lookups"] == len(QUERIES)
    primary = health["providers"]["primary_llm"]
    assert primary["status"] == "ok"
    assert primary["calls"] == len(QUERIES)
