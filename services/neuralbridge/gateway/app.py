"""``create_app()``: the gateway's Litestar application, from its opened parts.

Dependencies reach handlers through ``Provide`` (``proxy``, ``access``,
``feedback``, ``bus``, ``health_server``, ``max_body_bytes``); the guard reads
``app.state.access``. ``/api/proxy/stream`` (WebSocket) checks keys itself, after
the upgrade, so a refusal can be an event (see :mod:`~.routes.stream`).
The OpenAPI document (:mod:`~.contract`) is served at ``/schema`` and
``/schema/openapi.json``, behind the same API keys as every other route.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from neuralbridge.core.bus import Bus
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.gateway.access import Access, require_caller
from neuralbridge.gateway.contract import ContractJSON
from neuralbridge.gateway.feedback import FeedbackDesk
from neuralbridge.gateway.proxy_client import ProxyClient
from neuralbridge.gateway.replicas import PipelineReplicas
from neuralbridge.gateway.responses import EXCEPTION_HANDLERS
from neuralbridge.gateway.routes import (
    datasets_router,
    feedback_router,
    healthz,
    jobs_router,
    learning_router,
    openai_router,
    proxy_router,
    proxy_stream,
    readyz,
)

__all__ = ["GatewayParts", "create_app"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayParts:
    """What the app is built from (opened by the composition root)."""

    bus: Bus
    health: HealthServer
    proxy: ProxyClient
    access: Access
    feedback: FeedbackDesk
    max_body_bytes: int
    replicas: PipelineReplicas | None = None


def create_app(parts: GatewayParts) -> Litestar:
    """Build the gateway's ASGI app."""

    def provide(value: object) -> Provide:
        return Provide(lambda: value, use_cache=True, sync_to_thread=False)

    return Litestar(
        route_handlers=[
            healthz,
            readyz,
            proxy_router,
            proxy_stream,
            openai_router,
            feedback_router,
            datasets_router,
            jobs_router,
            learning_router,
        ],
        dependencies={
            "proxy": provide(parts.proxy),
            "access": provide(parts.access),
            "feedback": provide(parts.feedback),
            "bus": provide(parts.bus),
            "health_server": provide(parts.health),
            "max_body_bytes": provide(parts.max_body_bytes),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        state=State({"access": parts.access}),
        request_max_body_size=parts.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="NeuralBridge gateway",
            version="0.1.0",
            render_plugins=[ContractJSON()],
            # The document follows the gateway's auth setting, like every other route.
            openapi_router=Router(
                "/schema",
                route_handlers=[],
                include_in_schema=False,
                before_request=require_caller,
            ),
        ),
    )
