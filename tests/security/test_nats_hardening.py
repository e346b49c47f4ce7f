"""Attacks on the bus and the embedded stack: an outage from one request, anonymous access."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import nats
import nats.errors
import pytest

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats, free_port
from tests.support.waiting import eventually

#: What would point ``nb up`` at servers of the caller's choosing, or loosen its defaults.
UNSET = (
    "NATS_URL", "DATABASE_URL", "QDRANT_URL", "QDRANT_PATH", "BIND_HOST", "GATEWAY_AUTH",
    "NATS_USER", "NATS_PASSWORD", "NATS_TOKEN", "NATS_CREDS_FILE",
)  # fmt: skip


async def _pings(bus: Bus) -> bool:
    try:
        await bus.ping()
    except (ConnectionError, nats.errors.Error, TimeoutError):
        return False
    return True


async def test_server_closes_connection_over_long_subject_bus_comes_back(
    nats_server: EmbeddedNats, uid: str
) -> None:
    """A 5,000-char subject makes nats-server close the connection; the bus comes back."""
    bus = await Bus.connect(nats_server.url, name="hardening-h1")
    try:
        kv = await bus.js.create_key_value(bucket=f"H1_{uid}")
        with pytest.raises((nats.errors.Error, TimeoutError)):
            await bus.nc.request(f"$KV.H1_{uid}.{'x' * 5000}", b"", timeout=1)
        await eventually(lambda: _pings(bus), timeout=10)
        await kv.put("after", b"still here")
        assert (await kv.get("after")).value == b"still here"
    finally:
        await bus.close()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - local test URL
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@asynccontextmanager
async def nb_up(data_dir: Path) -> AsyncIterator[None]:
    """``nb up`` with its embedded servers, in ``data_dir``, until the block exits."""
    metrics = free_port()
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env |= {
        "NB_DATA_DIR": str(data_dir),
        "METRICS_PORT": str(metrics),
        "GATEWAY_PORT": str(free_port()),
        "NB_PG_FAST": "1",
        "LOG_LEVEL": "warning",
        "GATEWAY_AUTH": "off",  # the gateway's keys are not what this attack is about
        "PII_HASH_KEY": "hardening-test-pii-key-0123456789abcdef",
    }
    proc = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, polled over HTTP
        [sys.executable, "-m", "neuralbridge.cli.main", "up"],
        env=env, cwd=data_dir.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{metrics}/readyz"
        await eventually(lambda: asyncio.to_thread(_ready, url), timeout=90)
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(proc.wait, 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
async def test_anonymous_local_process_cannot_reach_embedded_nats_or_postgres(
    tmp_path: Path,
) -> None:
    """A local process that finds nb up's NATS and PostgreSQL is refused by both."""
    data_dir = tmp_path / "data"
    async with nb_up(data_dir):
        nats_url = json.loads((data_dir / "endpoints.json").read_text())["NATS_URL"]
        pg_port = (data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[3]
        intruder = nats.NATS()
        try:
            with pytest.raises(nats.errors.Error, match="Authorization Violation"):
                await intruder.connect(nats_url, allow_reconnect=False, connect_timeout=5)
        finally:
            await intruder.close()
        with pytest.raises(
            (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
        ):
            await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{pg_port}/neuralbridge")
