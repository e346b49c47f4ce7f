"""`nb up`: the embedded stack comes up ready, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from neuralbridge.core.embedded import free_port, read_secrets

pytestmark = pytest.mark.slow

#: Variables a developer's shell may hold that would change what ``nb up`` defaults to.
UNSET = (
    "NATS_URL", "DATABASE_URL", "QDRANT_URL", "QDRANT_PATH", "BIND_HOST", "PII_HASH_KEY",
    "GATEWAY_AUTH", "GATEWAY_API_KEY_HASHES", "GATEWAY_API_KEYS_FILE",
    "GATEWAY_ADMIN_KEY_HASHES", "GATEWAY_ADMIN_KEYS_FILE", "NATS_USER", "NATS_PASSWORD",
    "NATS_TOKEN", "NATS_CREDS_FILE",
)  # fmt: skip


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - local test URL
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError:
        return 0, ""


def _processes_using(path: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(cmdline)
    return found


def _listening_hosts(port: int) -> set[str]:
    """The IPv4 addresses a TCP socket listens on at ``port`` (from /proc/net/tcp)."""
    hosts = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, _, hex_port = local.partition(":")
        if state == "0A" and int(hex_port, 16) == port:
            hosts.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return hosts


def _gauge(metrics_text: str, name: str) -> float:
    """The value of an unlabelled gauge in Prometheus text (0 if absent)."""
    for line in metrics_text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


async def test_nb_up_ready_then_ctrl_c_stops_everything(tmp_path: Path) -> None:
    """All services report ready, bound to 127.0.0.1; the CLI connects; SIGINT stops all."""
    metrics, gateway = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env |= {"NB_DATA_DIR": str(tmp_path / "data"), "METRICS_PORT": str(metrics),
            "GATEWAY_PORT": str(gateway), "NB_PG_FAST": "1"}  # fmt: skip
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, polled over HTTP
            [sys.executable, "-m", "neuralbridge.cli.main", "up"],
            env=env, cwd=tmp_path, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        status, body = 0, ""
        for _ in range(600):
            status, body = await asyncio.to_thread(_get, f"http://127.0.0.1:{metrics}/readyz")
            if status == 200:
                break
            await asyncio.sleep(0.1)
        assert status == 200, body
        checks = json.loads(body)["checks"]
        assert {"qdrant", "gateway.nats", "gateway.postgres", "trainer.postgres"} <= set(checks)
        assert (await asyncio.to_thread(_get, f"http://127.0.0.1:{gateway}/healthz"))[0] == 200
        metrics_text = (await asyncio.to_thread(_get, f"http://127.0.0.1:{metrics}/metrics"))[1]
        assert "nb_jobs_total" in metrics_text
        frozen = 0.0
        for _ in range(100):  # once ready, what starting made is frozen out of the GC's sight
            text = (await asyncio.to_thread(_get, f"http://127.0.0.1:{metrics}/metrics"))[1]
            frozen = _gauge(text, "nb_gc_frozen_objects")
            if frozen:
                break
            await asyncio.sleep(0.1)
        assert frozen > 10_000
        assert _processes_using(tmp_path / "data")
        assert _listening_hosts(gateway) == {"127.0.0.1"}
        assert _listening_hosts(metrics) == {"127.0.0.1"}
        cli = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "neuralbridge.cli.main", "streams", "--json"],
            env=env, cwd=tmp_path, capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        assert cli.returncode == 0, cli.stderr.decode()
        assert json.loads(cli.stdout)  # the CLI used the stack's generated NATS credentials
        proc.send_signal(signal.SIGINT)
        code = await asyncio.to_thread(proc.wait, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log_path.read_text()
    assert code == 0, output
    assert "NeuralBridge is up" in output
    assert "API keys        off (GATEWAY_AUTH=off: anyone on this machine may call" in output
    assert f"generated, kept 0600 in {tmp_path / 'data' / 'secrets'}" in output
    secrets = read_secrets(tmp_path / "data")
    assert secrets is not None
    for secret in (secrets.nats_password, secrets.postgres_password, secrets.pii_hash_key):
        assert secret.reveal() not in output
    assert _processes_using(tmp_path / "data") == []
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
