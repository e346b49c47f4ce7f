"""``nb serve gateway`` as its own process imports the gateway alone, and still beats."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest

from neuralbridge.cli.registry import SERVICE_NAMES, service_specs
from neuralbridge.core.embedded import EmbeddedNats, free_port
from tests.gateway.conftest import TEST_PII_HASH_KEY
from tests.support.waiting import eventually


def test_service_specs_for_unknown_name_raises_value_error() -> None:
    """An unknown service name is refused with the names that exist."""
    with pytest.raises(ValueError, match=r"unknown service 'nope': expected one of .*gateway"):
        service_specs(("gateway", "nope"))


def test_service_specs_for_all_names_keep_their_order() -> None:
    """``nb up`` still composes all five services, in start-up order."""
    assert [spec.name for spec in service_specs()] == list(SERVICE_NAMES)


async def test_serve_gateway_alone_has_no_proxy_metrics_and_beats(
    private_nats: EmbeddedNats, database_url: str, tmp_path: Path
) -> None:
    """A separate gateway's /metrics has no ``proxy_`` series; its health lists its heartbeat."""
    metrics_port, gateway_port = free_port(), free_port()
    env = {
        **os.environ, "NATS_URL": private_nats.url, "DATABASE_URL": database_url,
        "GATEWAY_AUTH": "off", "PII_HASH_KEY": TEST_PII_HASH_KEY, "BIND_HOST": "127.0.0.1",
        "METRICS_PORT": str(metrics_port), "GATEWAY_PORT": str(gateway_port),
        "LOG_LEVEL": "warning",
    }  # fmt: skip
    log = (tmp_path / "gateway.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "neuralbridge.cli.main", "serve", "gateway",
        env=env, stdout=log, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            services: dict[str, object] = {}

            async def gateway_beats() -> bool:
                assert proc.returncode is None, (tmp_path / "gateway.log").read_text()
                try:
                    resp = await http.get(f"http://127.0.0.1:{gateway_port}/api/proxy/health")
                except httpx.TransportError:
                    return False
                services.update(resp.json()["services"])
                return "gateway" in services

            await eventually(gateway_beats, timeout=60)
            metrics = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        log.close()
    assert "\nnb_jobs_total" in metrics or "\nprocess_start_time_seconds" in metrics
    assert not [line for line in metrics.splitlines() if line.startswith("proxy_")]
    assert "proxy_pipeline" not in services
