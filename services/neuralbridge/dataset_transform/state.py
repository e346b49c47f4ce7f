"""Live state in KV and progress/completion events on the bus.

Each transform's :class:`TransformState` is kept under its id in the KV bucket
``dataset_transforms`` (the gateway and ``nb transforms watch`` read it) and
published as an event on ``dataset.events.transform.<id>.<kind>``; uploads do
the same with :class:`IngestState`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from nats.js.kv import KeyValue

from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import encode
from neuralbridge.core.subjects import (
    TRANSFORMS_KV,
    UPLOADS_KV,
    ingest_event_subject,
    transform_event_subject,
)
from neuralbridge.messages.datasets import IngestState, TransformState

__all__ = ["StateBoard"]


class StateBoard:
    """Write live state and events for transforms and uploads."""

    def __init__(self, bus: Bus, transforms: KeyValue, uploads: KeyValue) -> None:
        self._bus = bus
        self._transforms = transforms
        self._uploads = uploads

    @classmethod
    async def open(cls, bus: Bus) -> StateBoard:
        """Bind to the (already declared) KV buckets."""
        return cls(bus, await bus.js.key_value(TRANSFORMS_KV), await bus.js.key_value(UPLOADS_KV))

    async def transform(self, state: TransformState, kind: str) -> None:
        """Store ``state`` and publish it as a ``kind`` event (progress/completed/failed)."""
        stamped = msgspec.structs.replace(state, updated_at=_now())
        await self._transforms.put(state.transform_id, encode(stamped))
        await self._bus.publish(transform_event_subject(state.transform_id, kind), stamped)

    async def upload(self, state: IngestState) -> None:
        """Store an upload's state and publish it."""
        stamped = msgspec.structs.replace(state, updated_at=_now())
        await self._uploads.put(state.upload_id, encode(stamped))
        await self._bus.publish(ingest_event_subject(state.upload_id), stamped)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
