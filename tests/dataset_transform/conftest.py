"""The dataset-transform worker under test: its real composition root, in-process.

Each test gets its own nats-server (the stream names are the real, fixed ones)
and its own PostgreSQL database, and a Qdrant local-mode directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import AsyncQdrantClient

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.service import open_deps
from neuralbridge.core.settings import load_settings
from neuralbridge.dataset_transform import SERVICE, DatasetTransformSettings


@pytest.fixture
def worker_nats(private_nats: EmbeddedNats) -> EmbeddedNats:
    """This test's own nats-server (the stream names are the real, fixed ones)."""
    return private_nats


@pytest.fixture
def worker_env(worker_nats: EmbeddedNats, database_url: str, tmp_path: Path) -> dict[str, str]:
    """The worker's environment: test servers, seconds-long retries, small batches."""
    return {
        "NATS_URL": worker_nats.url,
        "DATABASE_URL": database_url,
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "RETRY_SCHEDULE": "0.3,0.3,0.3",
        "MAX_RETRIES": "3",
        "EMBEDDING_BATCH_SIZE": "8",
        "QDRANT_UPLOAD_BATCH_SIZE": "5",
        "EMBEDDER_RETRY_DELAY_MS": "50",
        "MAX_EMBEDDER_REQUESTS_PER_SECOND": "1000",
        "LOG_LEVEL": "warning",
        "SHUTDOWN_GRACE_SECONDS": "5",
    }


@asynccontextmanager
async def running_worker(env: dict[str, str]) -> AsyncIterator[AsyncQdrantClient]:
    """Run the service's main until the block exits; yield its Qdrant client."""
    settings = load_settings(DatasetTransformSettings, env)
    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        health = HealthServer("127.0.0.1", 0)
        qdrant = AsyncQdrantClient(path=env["QDRANT_PATH"])
        stack.push_async_callback(qdrant.close)
        deps = await open_deps(SERVICE, settings, health, stack, env=env, qdrant=qdrant)
        task = asyncio.create_task(SERVICE.main(deps, stop))
        await _wait_declared(deps.bus)
        try:
            yield qdrant
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


async def _wait_declared(bus: Bus) -> None:
    for _ in range(200):
        try:
            await bus.js.consumer_info("DATASET_INGEST", "worker-ingest")
            await bus.js.object_store("dataset_uploads")
        except Exception:  # not declared yet
            await asyncio.sleep(0.05)
        else:
            return
    raise AssertionError("worker did not declare its topology")


@pytest.fixture
def worker(worker_env: dict[str, str]) -> Callable[..., Any]:
    """``async with worker(**overrides) as qdrant:`` runs the worker in this test."""

    def start(**overrides: str) -> Any:
        return running_worker({**worker_env, **overrides})

    return start


@pytest.fixture
async def client_bus(worker_nats: EmbeddedNats) -> AsyncIterator[Bus]:
    """A connection playing the other services and the CLI."""
    bus = await Bus.connect(worker_nats.url, name="test-client")
    yield bus
    await bus.close()
