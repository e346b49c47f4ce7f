"""Composition of the gateway: the Litestar app and the ASGI server around it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from litestar import Litestar, Response, get
from litestar.openapi import OpenAPIConfig

from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.service import Deps, ServiceSpec
from neuralbridge.core.settings import CommonSettings, Port

__all__ = ["SERVICE", "GatewaySettings", "create_app", "main"]


class GatewaySettings(CommonSettings, frozen=True, kw_only=True):
    """Gateway settings: ``GATEWAY_PORT`` (4000, so the seed's curl examples work)."""

    gateway_port: Port = 4000


def create_app(health: HealthServer) -> Litestar:
    """Build the gateway's ASGI app."""

    @get("/healthz", include_in_schema=False, sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", include_in_schema=False)
    async def readyz() -> Response[dict[str, object]]:
        checks = await health.readiness()
        ready = all(v == "ok" for v in checks.values())
        body: dict[str, object] = {"status": "ready" if ready else "not_ready", "checks": checks}
        return Response(body, status_code=200 if ready else 503)

    return Litestar(
        route_handlers=[healthz, readyz],
        openapi_config=OpenAPIConfig(title="NeuralBridge gateway", version="0.1.0"),
    )


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the composition root owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def main(deps: Deps[GatewaySettings], stop: asyncio.Event) -> None:
    """Serve HTTP on ``GATEWAY_PORT`` until ``stop`` is set."""
    config = uvicorn.Config(
        create_app(deps.health),
        host=deps.settings.bind_host,
        port=deps.settings.gateway_port,
        log_level="warning",
        lifespan="on",
    )
    server = _Server(config)

    async def http_ready() -> None:
        if not server.started:
            raise ConnectionError(f"HTTP server not listening on {deps.settings.gateway_port} yet")

    deps.health.add_check("gateway.http", http_ready)
    serving = asyncio.create_task(server.serve())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await serving
    stopped.cancel()


SERVICE = ServiceSpec(name="gateway", settings_type=GatewaySettings, main=main, schema="gateway")
