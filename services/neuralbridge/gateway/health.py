"""``GET /api/proxy/health``: each component, from the checks the composition root registered.

NATS and PostgreSQL are the gateway's own connections (``gateway.nats``,
``gateway.postgres``); Qdrant is the process's client (``qdrant``, absent when
this process has none). ``proxy_pipeline`` is whether the ``proxy-pipeline``
consumer exists and has a pull waiting (a live replica). The primary LLM and
API B are not reported: the pipeline publishes no provider health yet, so they
read ``not_reported`` and do not affect the status.
"""

from __future__ import annotations

import msgspec

from neuralbridge.core.bus import Bus
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.subjects import PROXY_REQUESTS_CONSUMER, PROXY_REQUESTS_STREAM

__all__ = ["HealthReport", "check_health"]

_NOT_REPORTED = "not_reported"
_COMPONENTS = {"nats": "gateway.nats", "postgresql": "gateway.postgres", "qdrant": "qdrant"}


class HealthReport(msgspec.Struct, frozen=True, kw_only=True):
    """``status`` is ``ok`` when every reported component is."""

    status: str
    components: dict[str, str]
    checks: dict[str, str]


async def _pipeline(bus: Bus) -> str:
    try:
        info = await bus.js.consumer_info(PROXY_REQUESTS_STREAM, PROXY_REQUESTS_CONSUMER)
    except Exception as exc:  # noqa: BLE001 - any failure is the component's status
        return f"{type(exc).__name__}: {exc}"
    return "ok" if (info.num_waiting or 0) > 0 else "no pipeline replica is pulling requests"


async def check_health(health: HealthServer, bus: Bus) -> HealthReport:
    """Run the registered checks and the pipeline check; summarise per component."""
    checks = await health.readiness()
    components = {name: checks.get(check, "not_configured") for name, check in _COMPONENTS.items()}
    components["proxy_pipeline"] = await _pipeline(bus)
    components["primary_llm"] = _NOT_REPORTED
    components["api_b"] = _NOT_REPORTED
    judged = [v for k, v in components.items() if v not in (_NOT_REPORTED, "not_configured")]
    ok = all(v == "ok" for v in judged) and all(v == "ok" for v in checks.values())
    return HealthReport(status="ok" if ok else "degraded", components=components, checks=checks)
