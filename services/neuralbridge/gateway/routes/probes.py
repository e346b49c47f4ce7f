"""Liveness and readiness of the gateway itself (no API key needed)."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency

from neuralbridge.core.observability.http import HealthServer

__all__ = ["healthz", "readyz"]


@get("/healthz", include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, str]:
    """Alive."""
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(health_server: NamedDependency[HealthServer]) -> Response[dict[str, object]]:
    """Every registered readiness check; 503 unless all pass."""
    checks = await health_server.readiness()
    ready = all(v == "ok" for v in checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "not_ready", "checks": checks}
    return Response(body, status_code=200 if ready else 503)
