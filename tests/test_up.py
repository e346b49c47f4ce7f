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

from neuralbridge.core.embedded import free_port

pytestmark = pytest.mark.slow


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


def _gauge(metrics_text: str, name: str) -> float:
    """The value of an unlabelled gauge in Prometheus text (0 if absent)."""
    for line in metrics_text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


async def test_nb_up_ready_then_ctrl_c_stops_everything(tmp_path: Path) -> None:
    """All services report ready; SIGINT exits 0 with no nats-server/postgres left."""
    metrics, gateway = free_port(), free_port()
    env = {
        k: v for k, v in os.environ.items()
        if k not in ("NATS_URL", "DATABASE_URL", "QDRANT_URL", "QDRANT_PATH")
    }  # fmt: skip
    env |= {"NB_DATA_DIR": str(tmp_path / "data"), "METRICS_PORT": str(metrics),
            "GATEWAY_PORT": str(gateway), "BIND_HOST": "127.0.0.1", "NB_PG_FAST": "1"}  # fmt: skip
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
        proc.send_signal(signal.SIGINT)
        code = await asyncio.to_thread(proc.wait, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log_path.read_text()
    assert code == 0, output
    assert "NeuralBridge is up" in output
    assert _processes_using(tmp_path / "data") == []
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
