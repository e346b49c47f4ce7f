"""``/api/proxy/health`` and ``/api/proxy/stats``: measured over NATS, from every replica."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.gateway.conftest import running_gateway
from tests.proxy_pipeline.conftest import running_pipeline
from tests.support.fake_llm import FakeLLMServer
from tests.support.waiting import eventually

QUESTIONS = ("Who founded Acme Rockets?", "When does the Lisbon bakery open?")


async def _health(http: httpx.AsyncClient, url: str) -> httpx.Response:
    return await http.get(f"{url}/api/proxy/health")


async def _ask(http: httpx.AsyncClient, url: str, query: str) -> None:
    resp = await http.post(f"{url}/api/proxy/query", json={"query": query, "session_id": "s"})
    assert resp.status_code == 200, resp.text


@asynccontextmanager
async def two_replicas(env: dict[str, str], tmp_path: Path) -> AsyncIterator[str]:
    """Two pipeline replicas (each with its own Qdrant directory) and the gateway."""
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(running_pipeline(env))
        second = {**env, "QDRANT_PATH": str(tmp_path / "qdrant-second")}
        await stack.enter_async_context(running_pipeline(second))
        yield await stack.enter_async_context(running_gateway(env))


async def test_health_after_query_reports_llm_last_success(serve: Callable[..., Any]) -> None:
    """After an answered query the primary LLM is ok, with the time of its last success."""
    async with serve() as url, httpx.AsyncClient(timeout=30) as http:
        before = (await _health(http, url)).json()
        await _ask(http, url, QUESTIONS[0])
        resp = await _health(http, url)
    assert before["providers"]["primary_llm"]["status"] == "unknown"
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["components"]["nats"] == "ok"
    assert report["components"]["postgresql"] == "ok"
    assert report["components"]["proxy_pipeline"] == "ok"
    primary = report["providers"]["primary_llm"]
    assert (primary["status"], primary["provider"], primary["model"]) == (
        "ok",
        "openai",
        "gpt-test",
    )
    assert primary["last_success_at"] is not None
    assert (primary["calls"], primary["errors"], primary["error_rate"]) == (1, 0, 0.0)
    assert report["providers"]["api_b"]["status"] == "unknown"


async def test_health_after_provider_fails_reports_error_class_and_503(
    serve: Callable[..., Any], primary: FakeLLMServer
) -> None:
    """A primary that answered 500 is failing (class only, no text); API B answered."""
    async with serve() as url, httpx.AsyncClient(timeout=30) as http:
        await _ask(http, url, QUESTIONS[0])
        primary.fail_next(status=500, message="upstream said sk-leaky-token-123")
        await _ask(http, url, QUESTIONS[1])
        resp = await _health(http, url)
    assert resp.status_code == 503, resp.text
    assert "sk-leaky-token-123" not in resp.text
    report = resp.json()
    failing = report["providers"]["primary_llm"]
    assert failing["status"] == "failing"
    assert failing["last_error_class"] == "LLMUnavailable"
    assert failing["last_error_at"] > failing["last_success_at"]
    assert (failing["calls"], failing["errors"], failing["error_rate"]) == (2, 1, 0.5)
    assert report["components"]["primary_llm"] == "failing: LLMUnavailable"
    assert report["providers"]["api_b"]["status"] == "ok"
    assert report["status"] == "degraded"


async def test_health_with_services_running_lists_their_heartbeats(
    serve: Callable[..., Any],
) -> None:
    """The gateway and the pipeline each show one replica with a recent heartbeat."""
    async with serve() as url, httpx.AsyncClient(timeout=30) as http:

        async def both_beat() -> bool:
            services = (await _health(http, url)).json()["services"]
            return {"gateway", "proxy_pipeline"} <= set(services)

        await eventually(both_beat)
        services = (await _health(http, url)).json()["services"]
    for name in ("gateway", "proxy_pipeline"):
        assert services[name]["replicas"] == 1
        assert services[name]["last_heartbeat_at"] > 0
        assert services[name]["versions"] == ["0.1.0"]


async def test_health_without_pipeline_is_503(serve: Callable[..., Any]) -> None:
    """No pipeline replica: the health endpoint says so with 503; the LLMs are unknown."""
    async with serve(pipeline=False) as url, httpx.AsyncClient() as http:
        resp = await _health(http, url)
    assert resp.status_code == 503
    report = resp.json()
    assert report["components"]["proxy_pipeline"] != "ok"
    assert report["providers"]["primary_llm"] == {
        **report["providers"]["primary_llm"],
        "status": "unknown",
        "last_success_at": None,
    }
    assert "proxy_pipeline" not in report["services"]


async def test_stats_with_two_replicas_count_every_query_once(
    pipeline_env: dict[str, str], tmp_path: Path
) -> None:
    """Four queries through two replicas: four requests and lookups, hit rate = hits/lookups."""
    async with two_replicas(pipeline_env, tmp_path) as url, httpx.AsyncClient(timeout=30) as http:
        before = (await http.get(f"{url}/api/proxy/stats")).json()
        for query in (*QUESTIONS, *QUESTIONS):
            await _ask(http, url, query)
        after: dict[str, Any] = {}

        async def counted() -> bool:  # a replica counts a request just after answering it
            after.update((await http.get(f"{url}/api/proxy/stats")).json())
            return bool(after["requests_total"] - before["requests_total"] >= 4)

        await eventually(counted)
    assert "pipeline_in_process" not in after
    assert after["replicas"] == 2
    assert after["requests_total"] - before["requests_total"] == 4
    cache = after["cache"]
    hits = cache.get("memory_hit", 0) + cache.get("postgres_hit", 0)
    lookups = hits + cache.get("postgres_miss", 0) + cache.get("postgres_skipped", 0)
    assert after["cache_lookups"] == lookups
    assert after["cache_lookups"] - before["cache_lookups"] == 4
    assert after["cache_hit_rate"] == round(hits / lookups, 4)
    openai = after["latency_by_provider"]["openai"]
    assert 0 < openai["p50_ms"] <= openai["p95_ms"]
    assert after["latency_by_stage"]["generation"]["requests"] >= 2
