"""The per-service observability endpoint: ``/metrics``, ``/healthz``, ``/readyz``.

``/healthz`` answers 200 while the process is alive. ``/readyz`` runs every
registered readiness check (NATS connected, PostgreSQL answering, ...) with a
short timeout and answers 200 when all pass, 503 with each check's result
otherwise. ``/metrics`` is the Prometheus exposition of the process registry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import msgspec
import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from neuralbridge.core.observability.logs import scrub
from neuralbridge.core.ports import port_error

__all__ = ["HealthServer", "ReadinessCheck"]

log = structlog.get_logger()

ReadinessCheck = Callable[[], Awaitable[None]]
"""An async callable that returns when a dependency is usable and raises otherwise."""


class HealthServer:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` over HTTP.

    Args:
        host: Interface to bind.
        port: Port to bind (0 picks a free one; see :attr:`port` after start).
        check_timeout: Seconds each readiness check may take.
    """

    def __init__(self, host: str, port: int, *, check_timeout: float = 2.0) -> None:
        self._host, self._port = host, port
        self._checks: dict[str, ReadinessCheck] = {}
        self._timeout = check_timeout
        self._runner: web.AppRunner | None = None
        self._started = False

    @property
    def port(self) -> int:
        """The bound port (meaningful after :meth:`start`)."""
        return self._port

    def add_check(self, name: str, check: ReadinessCheck) -> None:
        """Register a readiness check under ``name``."""
        self._checks[name] = check

    def gate(self, name: str, waiting: str) -> Callable[[], None]:
        """A readiness check that fails with ``waiting`` until the returned callable is called.

        For what a service does after it is started but before it can serve (declaring
        its streams, loading a model): ``/readyz`` says so instead of ``ok``.
        """
        opened = False

        async def check() -> None:
            if not opened:
                raise ConnectionError(waiting)

        def open_gate() -> None:
            nonlocal opened
            opened = True

        self.add_check(name, check)
        return open_gate

    def mark_started(self) -> None:
        """Services are running: readiness now depends on the checks alone."""
        self._started = True

    async def readiness(self) -> dict[str, str]:
        """Run every check; return ``{name: "ok" | reason}``.

        Until :meth:`mark_started`, ``startup`` reports ``starting``, so a
        process is never ready while its services are still opening.
        """
        if not self._started:
            return {"startup": "starting"}
        names = list(self._checks)
        results = await asyncio.gather(
            *(self._run(self._checks[n]) for n in names), return_exceptions=False
        )
        return dict(zip(names, results, strict=True))

    async def _run(self, check: ReadinessCheck) -> str:
        try:
            await asyncio.wait_for(check(), self._timeout)
        except TimeoutError:
            return f"timed out after {self._timeout}s"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            # Served to whoever can reach the port: never a credential in a reason.
            return scrub(f"{type(exc).__name__}: {exc}")
        return "ok"

    async def start(self) -> None:
        """Bind and start serving.

        Raises:
            ConfigError: the port cannot be bound (in use, not allowed); the
                message names ``METRICS_PORT``. Nothing is left listening.
        """
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            raise port_error(self._host, self._port, "METRICS_PORT", exc) from None
        if self._port == 0:
            self._port = int(self._runner.addresses[0][1])
        log.info("health_server_started", host=self._host, port=self._port)

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, _request: web.Request) -> web.Response:
        checks = await self.readiness()
        ready = all(v == "ok" for v in checks.values())
        body = msgspec.json.encode({"status": "ready" if ready else "not_ready", "checks": checks})
        return web.Response(
            body=body, status=200 if ready else 503, content_type="application/json"
        )

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
