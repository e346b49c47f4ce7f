"""``/api/proxy/health`` reports each component; ``/api/proxy/stats`` the pipeline's counters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx


async def test_health_reports_each_component_ok(serve: Callable[..., Any]) -> None:
    """NATS, PostgreSQL and a pulling pipeline are ok; LLMs are said to be unreported."""
    async with serve() as url, httpx.AsyncClient(timeout=30) as http:
        resp = await http.get(f"{url}/api/proxy/health")
    assert resp.status_code == 200, resp.text
    components = resp.json()["components"]
    assert components["nats"] == "ok"
    assert components["postgresql"] == "ok"
    assert components["proxy_pipeline"] == "ok"
    assert components["primary_llm"] == "not_reported"


async def test_health_without_pipeline_is_503(serve: Callable[..., Any]) -> None:
    """No pipeline replica: the health endpoint says so with 503."""
    async with serve(pipeline=False) as url, httpx.AsyncClient() as http:
        resp = await http.get(f"{url}/api/proxy/health")
    assert resp.status_code == 503
    assert resp.json()["components"]["proxy_pipeline"] != "ok"


async def test_stats_count_answered_requests(serve: Callable[..., Any]) -> None:
    """After a query the in-process pipeline's counters show it."""
    async with serve() as url, httpx.AsyncClient(timeout=30) as http:
        before = (await http.get(f"{url}/api/proxy/stats")).json()
        query = {"query": "Who founded Acme Rockets?", "session_id": "s"}
        assert (await http.post(f"{url}/api/proxy/query", json=query)).status_code == 200
        after = (await http.get(f"{url}/api/proxy/stats")).json()
    assert after["pipeline_in_process"]
    assert after["requests_total"] == before["requests_total"] + 1
    assert after["latency_by_provider"]["openai"]["requests"] >= 1
