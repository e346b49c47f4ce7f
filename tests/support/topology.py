"""The production shape on one machine: each service its own `nb serve` process.

:func:`separate_services` starts the five services as five OS processes, each
configured by environment variables only, exactly as the Kubernetes manifests
do (``NATS_URL`` listing the servers, ``DATABASE_URL``, ``QDRANT_URL``, a port
of its own for metrics, the gateway's port), waits until every ``/readyz``
says ready, and stops them (SIGTERM, then SIGKILL) when the block ends. What
the processes print goes to ``<dir>/<service>.log``, shown when one fails.

The NATS servers, PostgreSQL and Qdrant come from the caller (the test
fixtures: a nats-server or a three-node cluster, embedded PostgreSQL, the
Qdrant stand-in of :mod:`tests.support.qdrant_server`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from neuralbridge.core.embedded import free_port
from tests.support.waiting import http_status

__all__ = ["SERVICES", "ServiceProcess", "Topology", "separate_services"]

#: Every service, in the order they are started.
SERVICES = ("dataset_transform", "proxy_pipeline", "trainer", "scheduler", "gateway")


@dataclass
class ServiceProcess:
    """One running `nb serve <name>`."""

    name: str
    proc: subprocess.Popen[bytes]
    metrics_port: int
    log: Path

    @property
    def metrics_url(self) -> str:
        """Where its ``/metrics``, ``/healthz`` and ``/readyz`` are."""
        return f"http://127.0.0.1:{self.metrics_port}"

    def output(self) -> str:
        """What it printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Topology:
    """The running services and the gateway's URL."""

    gateway_url: str
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def outputs(self) -> str:
        """Every service's output, for an assertion message."""
        return "\n".join(f"--- {n} ---\n{s.output()[-3000:]}" for n, s in self.services.items())


def _start(name: str, env: dict[str, str], work: Path) -> ServiceProcess:
    metrics = free_port()
    full = {**env, "METRICS_PORT": str(metrics), "NB_DATA_DIR": str(work / name)}
    log = work / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "neuralbridge.cli.main", "serve", name],
            env=full, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return ServiceProcess(name=name, proc=proc, metrics_port=metrics, log=log)


async def _wait_ready(topology: Topology, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    waiting = dict(topology.services)
    while waiting:
        for name, service in list(waiting.items()):
            if service.proc.poll() is not None:
                raise AssertionError(
                    f"{name} exited {service.proc.returncode}:\n{service.output()}"
                )
            if await asyncio.to_thread(http_status, f"{service.metrics_url}/readyz") == 200:
                del waiting[name]
        if loop.time() > deadline:
            raise AssertionError(
                f"not ready after {timeout}s: {sorted(waiting)}\n{topology.outputs()}"
            )
        await asyncio.sleep(0.2)


def _stop(service: ServiceProcess) -> None:
    if service.proc.poll() is None:
        service.proc.send_signal(signal.SIGTERM)
        try:
            service.proc.wait(30)
        except subprocess.TimeoutExpired:
            service.proc.kill()
            service.proc.wait()


@asynccontextmanager
async def separate_services(
    work: Path, env: dict[str, str], *, ready_within: float = 120.0
) -> AsyncIterator[Topology]:
    """The five services as separate processes with ``env`` (see the module docstring).

    ``env`` must name the servers (``NATS_URL``, ``DATABASE_URL``, ``QDRANT_URL``)
    and the gateway's access (keys or ``GATEWAY_AUTH=off``, ``PII_HASH_KEY``); the
    process environment underneath is cleaned of anything that would select the
    embedded default or another stack.
    """
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    base = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("NATS_", "DATABASE_", "QDRANT_", "GATEWAY_", "PII_"))
    }  # fmt: skip
    gateway_port = free_port()
    base |= {
        "BIND_HOST": "127.0.0.1", "GATEWAY_PORT": str(gateway_port), "LOG_LEVEL": "info",
        "NB_ENV_FILE": os.devnull, "SHUTDOWN_GRACE_SECONDS": "5", **env,
    }  # fmt: skip
    topology = Topology(gateway_url=f"http://127.0.0.1:{gateway_port}")
    try:
        for name in SERVICES:
            topology.services[name] = _start(name, base, work)
        await _wait_ready(topology, ready_within)
        yield topology
    finally:
        await asyncio.gather(*(asyncio.to_thread(_stop, s) for s in topology.services.values()))
