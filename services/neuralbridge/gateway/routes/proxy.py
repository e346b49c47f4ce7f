"""Seed 003's REST API: ``POST /api/proxy/query``, ``GET /api/proxy/health``, ``/stats``."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency

from neuralbridge.core.bus import Bus
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.gateway.access import caller_of, require_caller
from neuralbridge.gateway.health import HealthReport, check_health, read_heartbeats
from neuralbridge.gateway.jsonbody import declare_body, read_json
from neuralbridge.gateway.proxy_client import ProxyClient
from neuralbridge.gateway.queries import QueryAnswer, QueryInput
from neuralbridge.gateway.stats import ProxyStats, gather_replies, merge_stats

__all__ = ["proxy_router"]


@post("/query", status_code=200, summary="Ask the proxy a question")
async def query(
    proxy: NamedDependency[ProxyClient], request: Request[Any, Any, Any]
) -> QueryAnswer:
    """Answer ``query`` through cache → RAG → LLM → guardrails → API B."""
    started = time.monotonic()
    data = await read_json(request, QueryInput)
    answer = await proxy.answer(data.to_ask(), caller_of(request))
    return QueryAnswer.from_answer(answer, latency_ms=round((time.monotonic() - started) * 1000, 2))


@get("/health", summary="Health of each component")
async def health(
    health_server: NamedDependency[HealthServer], bus: NamedDependency[Bus]
) -> Response[HealthReport]:
    """NATS, PostgreSQL, the pipeline, services' heartbeats, the LLMs; 503 when one is down."""
    report = await check_health(health_server, bus)
    return Response(report, status_code=200 if report.status == "ok" else 503)


@get("/stats", summary="Pipeline statistics, over every replica")
async def stats(bus: NamedDependency[Bus]) -> ProxyStats:
    """Cache hits, latency per provider and stage, confidence, fallbacks, guardrail blocks."""
    beats = await read_heartbeats(bus)
    expected = sum(1 for beat in beats if beat.service == "proxy_pipeline")
    return merge_stats(await gather_replies(bus, expected=expected))


declare_body("post", "/api/proxy/query", QueryInput)

proxy_router = Router(
    path="/api/proxy", route_handlers=[query, health, stats], before_request=require_caller,
    tags=["proxy"],
)  # fmt: skip
