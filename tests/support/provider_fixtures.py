"""What the embedder and LLM client tests share: a key, an HTTP session, metric samples.

Each client package's ``conftest.py`` re-exports :func:`session` (pytest finds
fixtures among a conftest's names) and binds its ``start_fake`` fixture with
:func:`start_fake_fixture`::

    start_fake = start_fake_fixture(FakeEmbedderServer)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import pytest
from prometheus_client import REGISTRY

from tests.support.fake_http import FakeProviderServer, started_servers

__all__ = ["API_KEY", "sample", "session", "start_fake_fixture"]

ServerT = TypeVar("ServerT", bound=FakeProviderServer[Any])

#: A key the scrubber does not recognise by shape: only literal redaction hides it.
API_KEY = "nbtest-9f2c4e7a1b3d5f60"


def sample(name: str, **labels: str) -> float:
    """Read a metric sample from the default registry (0 when never recorded)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP session, as a service's composition root would own it."""
    async with aiohttp.ClientSession() as client:
        yield client


def start_fake_fixture(factory: Callable[..., ServerT]) -> Any:
    """Return a ``start_fake`` fixture that starts ``factory`` fakes and closes them after."""

    @pytest.fixture
    async def start_fake() -> AsyncIterator[Callable[..., Awaitable[ServerT]]]:
        """Start fake provider servers; all are closed after the test."""
        async with started_servers(factory) as start:
            yield start

    return start_fake
