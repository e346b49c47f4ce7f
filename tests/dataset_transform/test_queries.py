"""``dataset.query.*`` through the shared responder: typed replies, typed refusals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from neuralbridge.clients import RemoteError, ServiceUnavailableError
from neuralbridge.clients.datasets import export_dataset, list_datasets
from neuralbridge.core.bus import Bus
from neuralbridge.messages.replies import ERROR_HEADER

pytest.importorskip("sentence_transformers", reason="the local embedder needs the 'local' extra")

T = TypeVar("T")


async def _once_subscribed(call: Callable[[], Awaitable[T]]) -> T:
    """The worker subscribes just after declaring its streams: retry until it answers."""
    for _ in range(100):
        try:
            return await call()
        except ServiceUnavailableError:
            await asyncio.sleep(0.1)
    raise AssertionError("the worker never answered")


async def test_export_unknown_dataset_replies_not_found_naming_it(
    worker: Callable[..., Any], client_bus: Bus
) -> None:
    """Exporting a dataset that does not exist is a typed refusal naming it, at once."""
    async with worker():
        await _once_subscribed(lambda: list_datasets(client_bus))
        with pytest.raises(RemoteError) as caught:
            await export_dataset(client_bus, "missing", timeout=30)
    assert caught.value.code == "not_found"
    assert "'missing'" in str(caught.value)


async def test_list_malformed_request_replies_error_header(
    worker: Callable[..., Any], client_bus: Bus
) -> None:
    """A body that is not JSON gets an error reply with the error header, not silence."""
    async with worker():
        await _once_subscribed(lambda: list_datasets(client_bus))
        msg = await client_bus.nc.request("dataset.query.list", b"not json", timeout=10)
    assert msg.headers is not None
    assert msg.headers[ERROR_HEADER] == "PayloadError"
    assert b"invalid_request" in msg.data
