"""Whether any proxy-pipeline replica is alive, from the services' heartbeats.

The gateway follows the ``service_heartbeats`` bucket (see
:mod:`neuralbridge.core.heartbeat`) and remembers when each proxy-pipeline
replica last said it was alive (its ``sent_at``). With no beat newer than the
bucket's TTL, no replica can take a request: the proxy client answers 503 at
once instead of queueing a request nobody will pull and waiting for its
deadline. Until a first replica has beaten, the gateway's own start counts as a
beat, so replicas starting beside it have one TTL to send theirs; a replica
that stops cleanly deletes its key, which counts at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from nats.js.errors import KeyNotFoundError, NoKeysError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from neuralbridge.core import kvwatch
from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import PayloadError
from neuralbridge.core.heartbeat import HEARTBEATS
from neuralbridge.core.schemas import decode
from neuralbridge.core.topology import declare_kv
from neuralbridge.messages.monitoring import HEARTBEAT_TTL_SECONDS, HEARTBEATS_KV, Heartbeat

__all__ = ["PipelineReplicas"]

_PREFIX = "proxy_pipeline."


class PipelineReplicas:
    """The proxy-pipeline replicas' last heartbeats, followed live.

    Args:
        ttl: Seconds after its last beat a replica counts as gone.
        clock: Unix time (injectable for tests).
    """

    def __init__(
        self, *, ttl: float = HEARTBEAT_TTL_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._last_beat: dict[str, float] = {}
        self._watching: asyncio.Task[None] | None = None
        self._since: float | None = None
        self._seen_any = False

    def alive(self) -> bool:
        """Whether a replica beat within the TTL (True until the bucket is followed)."""
        if self._since is None:
            return True
        oldest_alive = self._clock() - self._ttl
        if not self._seen_any:  # none yet: replicas starting beside the gateway get one TTL
            return self._since >= oldest_alive
        return any(sent_at >= oldest_alive for sent_at in self._last_beat.values())

    async def start(self, bus: Bus) -> None:
        """Read the bucket, then follow it."""
        await declare_kv(bus.js, HEARTBEATS)  # the same bucket every service declares
        kv = await bus.js.key_value(HEARTBEATS_KV)
        try:
            keys = await kv.keys()
        except NoKeysError:
            keys = []
        for key in keys:
            if key.startswith(_PREFIX):
                with contextlib.suppress(KeyNotFoundError):
                    await self._seen(await kv.get(key))
        self._since = self._clock()
        self._watching = kvwatch.follow(kv, self._seen, key=None, name="pipeline-replicas")

    async def stop(self) -> None:
        """Stop following the bucket."""
        await kvwatch.stop(self._watching)

    async def _seen(self, entry: KeyValue.Entry) -> None:
        if not entry.key.startswith(_PREFIX):
            return
        if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
            self._last_beat.pop(entry.key, None)
            return
        try:
            beat = decode(entry.value, Heartbeat)
        except PayloadError:
            return
        self._last_beat[entry.key] = beat.sent_at
        self._seen_any = True
