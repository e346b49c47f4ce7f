"""What a service is, and the composition root that runs one or all of them.

A service is a :class:`ServiceSpec`: a name, its settings type, its migrations
and an ``async main(deps, stop)``. :func:`open_deps` builds the service's typed
:class:`Deps` (NATS, PostgreSQL with its migrations applied) inside an
``AsyncExitStack``; the CLI's ``nb serve`` runs one spec against configured
servers, ``nb up`` runs every spec in one process against the embedded ones.
Nothing else reads the environment or builds clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import asyncpg
import structlog
from qdrant_client import AsyncQdrantClient

from neuralbridge.core.bus import Bus
from neuralbridge.core.db import create_pool, load_migrations, migrate
from neuralbridge.core.errors import ConfigError
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.settings import CommonSettings, nats_auth

__all__ = ["Deps", "ServiceSpec", "install_stop_signals", "open_deps"]

log = structlog.get_logger()

S = TypeVar("S", bound=CommonSettings)

#: Seconds PostgreSQL may take to accept the first connection (an unroutable host
#: would otherwise hold the start for asyncpg's 60 s).
DATABASE_CONNECT_WITHIN = 10.0
#: Seconds a service keeps trying its first NATS connection before it exits with one line
#: (an orchestrator restarts it; after the first connection it reconnects forever).
NATS_CONNECT_WITHIN = 8.0


@dataclass(frozen=True, slots=True)
class Deps(Generic[S]):
    """Everything a service's main needs, opened by the composition root."""

    name: str
    settings: S
    bus: Bus
    pool: asyncpg.Pool
    health: HealthServer
    env: Mapping[str, str]
    qdrant: AsyncQdrantClient | None = None
    #: Called by the main once its streams, buckets and consumers are declared:
    #: until then ``/readyz`` reports ``<service>.topology`` as not ready.
    declared: Callable[[], None] = lambda: None


ServiceMain = Callable[[Deps[S], asyncio.Event], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class ServiceSpec(Generic[S]):
    """A service: its name, settings, PostgreSQL schema and migrations, main."""

    name: str
    settings_type: type[S]
    main: ServiceMain[S]
    schema: str
    migrations: Path | None = None


async def open_deps(
    spec: ServiceSpec[S],
    settings: S,
    health: HealthServer,
    stack: AsyncExitStack,
    *,
    env: Mapping[str, str],
    qdrant: AsyncQdrantClient | None = None,
    stop: asyncio.Event | None = None,
) -> Deps[S]:
    """Connect NATS and PostgreSQL, apply migrations, register readiness checks.

    Args:
        spec: The service.
        settings: Its settings (``NATS_URL`` and the NATS credentials among them).
        health: Where the readiness checks go.
        stack: Closes what is opened here.
        env: The environment the settings came from.
        qdrant: The process's Qdrant client, if any.
        stop: When set (SIGTERM), the first NATS connection stops retrying.

    Raises:
        ConfigError: ``NATS_URL`` or ``DATABASE_URL`` is missing or unreachable (NATS
            retried for ``NATS_CONNECT_WITHIN``, PostgreSQL waited for
            ``DATABASE_CONNECT_WITHIN``), or NATS refused the credentials.
        ConnectionAbortedError: ``stop`` was set before NATS answered.
    """
    if not settings.nats_url:
        raise ConfigError("configuration error: NATS_URL is required but not set")
    if settings.database_url is None:
        raise ConfigError("configuration error: DATABASE_URL is required but not set")
    bus = await Bus.connect(
        settings.nats_url,
        name=f"neuralbridge-{spec.name}",
        auth=nats_auth(settings),
        stop=stop,
        connect_within=NATS_CONNECT_WITHIN,
    )
    stack.push_async_callback(bus.close)
    try:
        pool = await asyncio.wait_for(
            create_pool(settings.database_url.reveal(), schema=spec.schema), DATABASE_CONNECT_WITHIN
        )
    except TimeoutError:
        raise ConfigError(
            f"configuration error: DATABASE_URL: PostgreSQL did not answer within "
            f"{DATABASE_CONNECT_WITHIN:g}s; start it or correct DATABASE_URL"
        ) from None
    except (OSError, asyncpg.PostgresError) as exc:
        raise ConfigError(
            f"configuration error: DATABASE_URL: cannot connect ({type(exc).__name__}: {exc})"
        ) from None
    stack.push_async_callback(pool.close)
    migrations = load_migrations(spec.migrations) if spec.migrations else []
    await migrate(pool, spec.schema, migrations)
    health.add_check(f"{spec.name}.nats", bus.ping)

    async def postgres_ready() -> None:
        await pool.fetchval("SELECT 1")

    health.add_check(f"{spec.name}.postgres", postgres_ready)
    declared = health.gate(f"{spec.name}.topology", "declaring its streams and buckets")
    return Deps(
        name=spec.name, settings=settings, bus=bus, pool=pool, health=health, env=env,
        qdrant=qdrant, declared=declared,
    )  # fmt: skip


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGTERM/SIGINT set ``stop`` (graceful); a second one exits at once."""
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("forced_exit", signal=signal.Signals(signum).name)
            raise SystemExit(130)
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, on_signal, signum)
