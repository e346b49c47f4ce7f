"""``nb up`` (everything, embedded) and ``nb serve`` (one service, real servers)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import structlog
from qdrant_client import AsyncQdrantClient

from neuralbridge.cli.registry import service_specs
from neuralbridge.core.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    endpoints_file,
    port_is_free,
    write_endpoints,
)
from neuralbridge.core.observability import configure_logging, configure_tracing
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.observability.metrics import GC_FROZEN_OBJECTS
from neuralbridge.core.service import ServiceSpec, install_stop_signals, open_deps
from neuralbridge.core.settings import CommonSettings, load_env, load_settings, redact_url

__all__ = ["run_serve", "run_up"]

log = structlog.get_logger()


def run_up() -> int:
    """Start the embedded servers (for unset URLs) and all five services."""
    env = load_env()
    common = load_settings(CommonSettings, env)
    configure_logging(level=common.log_level, fmt=common.log_format, service="all-in-one")
    configure_tracing(
        service_name=common.otel_service_name or "neuralbridge",
        service_version=common.otel_service_version,
        otlp_endpoint=common.otel_exporter_otlp_endpoint,
    )
    data_dir = Path(common.nb_data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    nats = None if common.nats_url else EmbeddedNats(data_dir / "nats", _preferred(4222))
    postgres = (
        None if common.database_url else EmbeddedPostgres(data_dir / "postgres", _preferred(5432))
    )
    try:
        overrides: dict[str, str] = {}
        if nats is not None:
            nats.start()
            overrides["NATS_URL"] = nats.url
        if postgres is not None:
            postgres.start()
            overrides["DATABASE_URL"] = postgres.url
        if not common.qdrant_url and not common.qdrant_path:
            overrides["QDRANT_PATH"] = str(data_dir / "qdrant")
        env = {**env, **overrides}
        write_endpoints(data_dir, {k: v for k, v in overrides.items() if k != "DATABASE_URL"})
        asyncio.run(_run_services(service_specs(), env, banner=True))
    finally:
        with contextlib.suppress(FileNotFoundError):
            endpoints_file(data_dir).unlink()
        if postgres is not None:
            postgres.stop()
        if nats is not None:
            nats.stop()
    return 0


def run_serve(name: str) -> int:
    """Run one service as its own process against the configured servers."""
    env = load_env()
    spec = service_specs((name,))[0]
    settings = load_settings(spec.settings_type, env)
    configure_logging(level=settings.log_level, fmt=settings.log_format, service=name)
    configure_tracing(
        service_name=settings.otel_service_name or f"neuralbridge-{name}",
        service_version=settings.otel_service_version,
        otlp_endpoint=settings.otel_exporter_otlp_endpoint,
    )
    asyncio.run(_run_services([spec], env, banner=False))
    return 0


def _preferred(port: int) -> int:
    return port if port_is_free(port) else 0


async def _run_services(
    specs: list[ServiceSpec[Any]], env: dict[str, str], *, banner: bool
) -> None:
    stop = asyncio.Event()
    install_stop_signals(stop)
    common = load_settings(CommonSettings, env)
    health = HealthServer(common.bind_host, common.metrics_port)
    async with AsyncExitStack() as stack:
        await health.start()
        stack.push_async_callback(health.stop)
        qdrant = await _open_qdrant(common, health, stack)
        deps = [
            await open_deps(
                spec, load_settings(spec.settings_type, env), health, stack, env=env, qdrant=qdrant
            )
            for spec in specs
        ]
        tasks: dict[asyncio.Task[None], str] = {
            asyncio.create_task(spec.main(dep, stop), name=spec.name): spec.name
            for spec, dep in zip(specs, deps, strict=True)
        }
        # One turn of the loop lets every main run up to its first await, which
        # is where it registers its own readiness checks (e.g. gateway.http).
        await asyncio.sleep(0)
        health.mark_started()
        freezing = asyncio.create_task(_freeze_heap_when_ready(health))
        if banner:
            _print_banner(env, common, health.port)
        log.info("services_started", services=[s.name for s in specs])
        waiter = asyncio.create_task(_until(stop))
        done, _ = await asyncio.wait({*tasks, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not waiter and task.exception() is not None:
                log.error("service_failed", service=tasks[task], error=repr(task.exception()))
        stop.set()
        # Services drain within SHUTDOWN_GRACE_SECONDS; past that (plus a margin
        # for closing connections) they are cancelled so the process still exits.
        _, late = await asyncio.wait(tasks, timeout=common.shutdown_grace_seconds + 5)
        for task in late:
            log.warning("service_cancelled_after_grace", service=tasks[task])
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        waiter.cancel()
        freezing.cancel()
        failed = [tasks[t] for t, r in zip(tasks, results, strict=True) if isinstance(r, Exception)]
        log.info("services_stopped", failed=failed)
        if failed:
            raise SystemExit(1)


async def _until(stop: asyncio.Event) -> None:
    await stop.wait()


async def _freeze_heap_when_ready(health: HealthServer, *, limit: float = 120.0) -> None:
    """Once every service is ready, put what starting made out of the collector's sight.

    Starting leaves some 230,000 long-lived objects (modules, the apps, clients),
    and every full collection walked all of them again: under ``nb up``, four
    collections of up to 120 ms in 400 requests. ``gc.freeze()`` moves them to a
    generation the collector skips; later objects are collected as usual. After
    ``limit`` seconds without readiness the heap is frozen anyway.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while loop.time() < deadline:
        if all(state == "ok" for state in (await health.readiness()).values()):
            break
        await asyncio.sleep(0.5)
    gc.collect()
    gc.freeze()
    GC_FROZEN_OBJECTS.set(gc.get_freeze_count())
    log.info("heap_frozen", objects=gc.get_freeze_count())


async def _open_qdrant(
    common: CommonSettings, health: HealthServer, stack: AsyncExitStack
) -> AsyncQdrantClient | None:
    """One Qdrant client per process (local mode allows only one per directory)."""
    if not (common.qdrant_url or common.qdrant_path):
        return None

    if common.qdrant_url:
        key = common.qdrant_api_key.reveal() if common.qdrant_api_key else None
        client = AsyncQdrantClient(url=common.qdrant_url, api_key=key)
    else:
        assert common.qdrant_path is not None
        client = AsyncQdrantClient(path=common.qdrant_path)
    stack.push_async_callback(client.close)

    async def qdrant_ready() -> None:
        await client.get_collections()

    health.add_check("qdrant", qdrant_ready)
    return client


def _print_banner(env: dict[str, str], common: CommonSettings, metrics_port: int) -> None:
    host = "127.0.0.1" if common.bind_host in ("0.0.0.0", "::") else common.bind_host  # noqa: S104
    gateway_port = env.get("GATEWAY_PORT", "4000")
    qdrant = env.get("QDRANT_URL") or f"local mode at {env.get('QDRANT_PATH', '?')}"
    lines = [
        "",
        f"NeuralBridge is up (pid {os.getpid()}, data in {Path(common.nb_data_dir).resolve()})",
        f"  NATS JetStream  {env['NATS_URL']}",
        f"  PostgreSQL      {redact_url(env['DATABASE_URL'])}",
        f"  Qdrant          {qdrant}",
        f"  Gateway         http://{host}:{gateway_port}  (OpenAPI: /schema)",
        f"  Metrics/health  http://{host}:{metrics_port}/metrics  /healthz  /readyz",
        "Press Ctrl-C to stop (data is kept for the next `make up`).",
        "",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)
