"""The trainer under test: its real composition root, in-process.

Each test gets its own nats-server (the stream names are the real, fixed ones)
and its own PostgreSQL database; tests inject a clock and extra jobs through
``make_main``, exactly as the service composes its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from neuralbridge.core.bus import Bus
from neuralbridge.core.db import create_pool
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.service import ServiceSpec, open_deps
from neuralbridge.core.settings import load_settings
from neuralbridge.trainer import SERVICE, TrainerSettings, make_main
from neuralbridge.trainer.runs import JobDef
from tests.trainer.helpers import NOW, FakeClock


@pytest.fixture
def trainer_nats(private_nats: EmbeddedNats) -> EmbeddedNats:
    """This test's own nats-server (the stream names are the real, fixed ones)."""
    return private_nats


@pytest.fixture
def trainer_env(trainer_nats: EmbeddedNats, database_url: str) -> dict[str, str]:
    """Test servers and sub-second retry delays."""
    return {
        "NATS_URL": trainer_nats.url,
        "DATABASE_URL": database_url,
        "RATE_LIMIT_RETRY_SECONDS": "0.3",
        "CLEANUP_RETRY_SECONDS": "0.2",
        "TRAINING_ANALYSIS_MIN_QUERIES": "10",
        "LOG_LEVEL": "warning",
        "SHUTDOWN_GRACE_SECONDS": "5",
    }


@pytest.fixture
def clock() -> FakeClock:
    """The trainer's clock, fixed at ``NOW`` unless a test moves it."""
    return FakeClock(NOW)


@asynccontextmanager
async def running_trainer(
    env: dict[str, str], clock: Callable[[], datetime], jobs: Iterable[JobDef]
) -> AsyncIterator[None]:
    """Run the trainer's main until the block exits."""
    spec = ServiceSpec(
        name=SERVICE.name, settings_type=TrainerSettings, schema=SERVICE.schema,
        migrations=SERVICE.migrations, main=make_main(clock=clock, extra_jobs=jobs),
    )  # fmt: skip
    settings = load_settings(TrainerSettings, env)
    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        deps = await open_deps(spec, settings, HealthServer("127.0.0.1", 0), stack, env=env)
        task = asyncio.create_task(spec.main(deps, stop))
        await _wait_ready(deps.bus)
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


async def _wait_ready(bus: Bus) -> None:
    for _ in range(400):
        try:
            for queue in ("default", "training", "learning"):
                info = await bus.js.consumer_info(f"JOBS_{queue.upper()}", f"trainer-{queue}")
                assert info.num_waiting
            await bus.js.consumer_info("FEEDBACK", "trainer-feedback")
        except Exception:  # not declared or not pulling yet
            await asyncio.sleep(0.05)
        else:
            return
    raise AssertionError("trainer did not start consuming")


@pytest.fixture
def trainer(trainer_env: dict[str, str], clock: FakeClock) -> Callable[..., Any]:
    """``async with trainer(*extra_jobs, **env_overrides):`` runs the trainer in this test."""

    def start(*jobs: JobDef, **overrides: str) -> Any:
        return running_trainer({**trainer_env, **overrides}, clock, jobs)

    return start


@pytest.fixture
async def client_bus(trainer_nats: EmbeddedNats) -> AsyncIterator[Bus]:
    """A connection playing the other services and the CLI."""
    bus = await Bus.connect(trainer_nats.url, name="test-client")
    yield bus
    await bus.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the trainer's schema (read after the trainer applied its migrations)."""
    pool = await create_pool(database_url, schema="trainer", max_size=4)
    yield pool
    await pool.close()
