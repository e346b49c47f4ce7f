"""Composition of the gateway: settings, topology, the proxy client, access control, uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn

from neuralbridge.core.heartbeat import start_heartbeat
from neuralbridge.core.service import Deps, ServiceSpec
from neuralbridge.core.subjects import FEEDBACK_KV
from neuralbridge.gateway.access import Access
from neuralbridge.gateway.app import GatewayParts, create_app
from neuralbridge.gateway.bodies import require_media_type
from neuralbridge.gateway.fastpath import fast_routes
from neuralbridge.gateway.feedback import FeedbackDesk
from neuralbridge.gateway.proxy_client import ProxyClient
from neuralbridge.gateway.ratelimit import RateLimiter
from neuralbridge.gateway.ratelimit_sync import RateLimitSync
from neuralbridge.gateway.replicas import PipelineReplicas
from neuralbridge.gateway.request_log import log_requests
from neuralbridge.gateway.settings import GatewaySettings, load_keys
from neuralbridge.gateway.topology import declare_all

__all__ = ["SERVICE", "build_parts", "main"]


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the composition root owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def build_parts(deps: Deps[GatewaySettings]) -> GatewayParts:
    """Declare the gateway's topology; the app's parts (``ConfigError`` on bad keys)."""
    s = deps.settings
    await declare_all(deps.bus.js, replicas=deps.settings.nats_stream_replicas)
    deps.declared()
    feedback = FeedbackDesk(deps.bus, await deps.bus.js.key_value(FEEDBACK_KV))
    assert s.pii_hash_key is not None  # GatewaySettings refuses to exist without it
    access = Access(
        load_keys(s), RateLimiter(s.gateway_rate_limit_per_minute),
        session_secret=s.pii_hash_key.reveal().encode(),
    )  # fmt: skip
    replicas = PipelineReplicas()
    await replicas.start(deps.bus)
    proxy = ProxyClient(
        deps.bus, timeout=s.gateway_request_timeout, access=access, replicas=replicas
    )
    return GatewayParts(
        bus=deps.bus, health=deps.health, proxy=proxy,
        access=access, feedback=feedback, max_body_bytes=s.gateway_max_body_bytes,
        replicas=replicas,
    )  # fmt: skip


async def main(deps: Deps[GatewaySettings], stop: asyncio.Event) -> None:
    """Serve HTTP on ``GATEWAY_PORT`` until ``stop`` is set."""
    port = deps.settings.gateway_port
    server: _Server | None = None

    async def http_ready() -> None:
        if server is None or not server.started:
            raise ConnectionError(f"HTTP server not listening on {port} yet")

    # Registered before the first await: the composition root marks the process
    # started as soon as every main is scheduled, and /readyz must not turn 200
    # in the window before the gateway has bound its port.
    deps.health.add_check("gateway.http", http_ready)
    start_heartbeat(deps, stop)
    parts = await build_parts(deps)
    # The wrappers sit outside Litestar: no middleware stack per route, and the
    # question routes skip Litestar's per-request machinery (see fastpath.py).
    app = log_requests(
        require_media_type(
            fast_routes(
                create_app(parts), proxy=parts.proxy, access=parts.access,
                max_body_bytes=parts.max_body_bytes,
            )
        )
    )  # fmt: skip
    config = uvicorn.Config(
        app,
        host=deps.settings.bind_host,
        port=port,
        http="httptools",  # C parser; a dependency, so never the h11 fallback
        log_level="warning",
        lifespan="on",
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve())
    stopped = asyncio.create_task(stop.wait())
    syncing = _share_rate_limits(deps, parts.access.limiter, stop)
    await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await serving
    stopped.cancel()
    if parts.replicas is not None:
        await parts.replicas.stop()
    if syncing is not None:
        await syncing


def _share_rate_limits(
    deps: Deps[GatewaySettings], limiter: RateLimiter, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """Share rate-limit tokens with the other replicas (unless limits or sharing are off)."""
    s = deps.settings
    if s.gateway_rate_limit_per_minute <= 0 or s.gateway_rate_limit_sync_seconds <= 0:
        return None
    sync = RateLimitSync(deps.bus, limiter, interval=s.gateway_rate_limit_sync_seconds)
    return asyncio.create_task(sync.run(stop), name="gateway-ratelimit-sync")


SERVICE = ServiceSpec(name="gateway", settings_type=GatewaySettings, main=main, schema="gateway")
