"""``nb up`` (everything, embedded) and ``nb serve`` (one service, real servers).

``nb up`` is private to this machine by default: the gateway and metrics bind
127.0.0.1 unless ``BIND_HOST`` is set, the embedded NATS and PostgreSQL take
generated credentials, ``PII_HASH_KEY`` is generated unless set (all kept 0600
in ``<data dir>/secrets``), and with no API key configured it runs the gateway
with ``GATEWAY_AUTH=off`` and says so in its banner.

Both check what they can before connecting anywhere (``cli/startup.py``): a
taken port or a missing Qdrant setting ends the start with one line and exit 2,
and ``nb up`` then starts no embedded server. A ``ConfigError`` raised later
(a service's own settings, Qdrant unreachable) also exits 2 with one line, after
``nb up`` has stopped the embedded NATS and PostgreSQL it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import structlog
from qdrant_client import AsyncQdrantClient

from neuralbridge.cli.banner import credentials_note, print_banner
from neuralbridge.cli.registry import service_specs
from neuralbridge.cli.startup import check_before_start, open_qdrant
from neuralbridge.core.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    StackSecrets,
    endpoints_file,
    load_or_create_secrets,
    port_is_free,
    secrets_dir,
    write_endpoints,
)
from neuralbridge.core.errors import ConfigError
from neuralbridge.core.observability import configure_logging, configure_tracing
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.observability.metrics import GC_FROZEN_OBJECTS
from neuralbridge.core.service import Deps, ServiceSpec, install_stop_signals, open_deps
from neuralbridge.core.settings import CommonSettings, load_env, load_settings

__all__ = ["run_serve", "run_up"]

log = structlog.get_logger()

#: What ``endpoints.json`` shares with the other ``nb`` commands (no secret).
_SHARED_ENDPOINTS = ("NATS_URL", "QDRANT_PATH")

#: The variables that configure the gateway's API keys.
_KEY_VARIABLES = (
    "GATEWAY_API_KEY_HASHES",
    "GATEWAY_API_KEYS_FILE",
    "GATEWAY_ADMIN_KEY_HASHES",
    "GATEWAY_ADMIN_KEYS_FILE",
)


def run_up() -> int:
    """Start the embedded servers (for unset URLs) and all five services."""
    env = load_env()
    common = load_settings(CommonSettings, env)
    _configure(common, service="all-in-one", tracing_name="neuralbridge")
    data_dir = Path(common.nb_data_dir).resolve()
    overrides = _local_defaults(env, common, data_dir)
    specs = service_specs()
    # Ports and settings first: a failure here creates, starts and leaves nothing.
    check_before_start(specs, {**env, **overrides})
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets = load_or_create_secrets(data_dir)
    overrides |= _private_defaults(env, secrets)
    nats, postgres = _embedded_servers(common, data_dir, secrets)
    try:
        if nats is not None:
            nats.start()
            overrides |= {
                "NATS_URL": nats.url,
                "NATS_USER": secrets.nats_user,
                "NATS_PASSWORD": secrets.nats_password.reveal(),
            }
            env = {k: v for k, v in env.items() if k not in ("NATS_TOKEN", "NATS_CREDS_FILE")}
        if postgres is not None:
            postgres.start()
            overrides["DATABASE_URL"] = postgres.url
        env = {**env, **overrides}
        write_endpoints(data_dir, {k: overrides[k] for k in _SHARED_ENDPOINTS if k in overrides})
        notes = [credentials_note(secrets_dir(data_dir))] if nats or postgres else []
        asyncio.run(_run_services(specs, env, banner=notes))
    finally:
        with contextlib.suppress(FileNotFoundError):
            endpoints_file(data_dir).unlink()
        if postgres is not None:
            postgres.stop()
        if nats is not None:
            nats.stop()
    return 0


def _embedded_servers(
    common: CommonSettings, data_dir: Path, secrets: StackSecrets
) -> tuple[EmbeddedNats | None, EmbeddedPostgres | None]:
    """The embedded servers for the URLs that are not set, with generated credentials."""
    nats = postgres = None
    if not common.nats_url:
        nats = EmbeddedNats(
            data_dir / "nats",
            _preferred(4222),
            user=secrets.nats_user,
            password=secrets.nats_password,
        )
    if not common.database_url:
        postgres = EmbeddedPostgres(
            data_dir / "postgres", _preferred(5432), password=secrets.postgres_password
        )
    return nats, postgres


def _local_defaults(env: dict[str, str], common: CommonSettings, data_dir: Path) -> dict[str, str]:
    """What ``nb up`` sets unless the operator did: local binding, Qdrant in the data dir."""
    defaults: dict[str, str] = {}
    if not env.get("BIND_HOST"):
        defaults["BIND_HOST"] = "127.0.0.1"
    if not common.qdrant_url and not common.qdrant_path:
        defaults["QDRANT_PATH"] = str(data_dir / "qdrant")
    return defaults


def _private_defaults(env: dict[str, str], secrets: StackSecrets) -> dict[str, str]:
    """What ``nb up`` sets unless the operator did: PII key, auth off."""
    defaults: dict[str, str] = {}
    if not env.get("PII_HASH_KEY"):
        defaults["PII_HASH_KEY"] = secrets.pii_hash_key.reveal()
    if not any(env.get(name) for name in (*_KEY_VARIABLES, "GATEWAY_AUTH")):
        defaults["GATEWAY_AUTH"] = "off"
    return defaults


def run_serve(name: str) -> int:
    """Run one service as its own process against the configured servers."""
    env = load_env()
    spec = service_specs((name,))[0]
    settings = load_settings(spec.settings_type, env)
    check_before_start([spec], env)
    _configure(settings, service=name, tracing_name=f"neuralbridge-{name}")
    asyncio.run(_run_services([spec], env, banner=None))
    return 0


def _configure(settings: CommonSettings, *, service: str, tracing_name: str) -> None:
    """Logging and tracing, once, from the process's settings."""
    configure_logging(level=settings.log_level, fmt=settings.log_format, service=service)
    configure_tracing(
        service_name=settings.otel_service_name or tracing_name,
        service_version=settings.otel_service_version,
        otlp_endpoint=settings.otel_exporter_otlp_endpoint,
    )


def _preferred(port: int) -> int:
    return port if port_is_free(port) else 0


async def _open_all(
    specs: list[ServiceSpec[Any]],
    env: dict[str, str],
    health: HealthServer,
    stack: AsyncExitStack,
    *,
    stop: asyncio.Event,
    qdrant: AsyncQdrantClient | None,
) -> list[Deps[Any]] | None:
    """Every service's deps; ``None`` when a signal came while connecting."""
    try:
        return [
            await open_deps(
                spec,
                load_settings(spec.settings_type, env),
                health,
                stack,
                env=env,
                qdrant=qdrant,
                stop=stop,
            )
            for spec in specs
        ]
    except ConnectionAbortedError:
        log.info("stopped_while_starting")
        return None


async def _run_services(
    specs: list[ServiceSpec[Any]], env: dict[str, str], *, banner: list[str] | None
) -> None:
    stop = asyncio.Event()
    install_stop_signals(stop)
    common = load_settings(CommonSettings, env)
    health = HealthServer(common.bind_host, common.metrics_port)
    async with AsyncExitStack() as stack:
        # Qdrant first: a held QDRANT_PATH or an unreachable server ends the start
        # before anything listens or connects.
        qdrant = await open_qdrant(common, health, stack)
        await health.start()
        stack.push_async_callback(health.stop)
        deps = await _open_all(specs, env, health, stack, stop=stop, qdrant=qdrant)
        if deps is None:
            return
        tasks: dict[asyncio.Task[None], str] = {
            asyncio.create_task(spec.main(dep, stop), name=spec.name): spec.name
            for spec, dep in zip(specs, deps, strict=True)
        }
        # One turn of the loop lets every main run up to its first await, which
        # is where it registers its own readiness checks (e.g. gateway.http).
        await asyncio.sleep(0)
        health.mark_started()
        freezing = asyncio.create_task(_freeze_heap_when_ready(health))
        if banner is not None:
            print_banner(env, common, health.port, banner)
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
        _raise_failures(list(tasks.values()), results)


def _raise_failures(names: list[str], results: list[Any]) -> None:
    """A service's ``ConfigError`` as it is (one line, exit 2); other failures exit 1."""
    failed = [name for name, r in zip(names, results, strict=True) if isinstance(r, Exception)]
    log.info("services_stopped", failed=failed)
    for result in results:
        if isinstance(result, ConfigError):
            raise result
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
