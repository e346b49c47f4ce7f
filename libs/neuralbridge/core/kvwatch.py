"""Following a KV key (or a whole bucket) for the life of a service.

:func:`follow` runs ``on_entry`` for every update in a task of its own; a
watch that fails (NATS reconnect, stream leader change) is logged and
re-opened after :data:`RETRY_SECONDS`, and re-opening delivers the current
value first, so nothing is missed for long. :func:`stop` ends the task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog
from nats.js.kv import KeyValue

__all__ = ["RETRY_SECONDS", "follow", "stop"]

log = structlog.get_logger()

RETRY_SECONDS = 5.0

OnEntry = Callable[[KeyValue.Entry], Awaitable[None]]


def follow(
    kv: KeyValue,
    on_entry: OnEntry,
    *,
    key: str | None,
    name: str,
    watcher: KeyValue.KeyWatcher | None = None,
) -> asyncio.Task[None]:
    """Watch ``key`` (``None``: every key) of ``kv`` until :func:`stop`.

    ``watcher`` continues a watch the caller already opened (and drained of its
    initial values), instead of opening a new one.
    """
    return asyncio.create_task(_follow(kv, on_entry, key, name, watcher), name=name)


async def stop(task: asyncio.Task[None] | None) -> None:
    """Cancel a :func:`follow` task and wait for it (``None``: nothing to do)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _follow(
    kv: KeyValue,
    on_entry: OnEntry,
    key: str | None,
    name: str,
    watcher: KeyValue.KeyWatcher | None,
) -> None:
    while True:
        try:
            if watcher is None:
                watcher = await (kv.watchall() if key is None else kv.watch(key))
            async for entry in watcher:
                if entry is not None:
                    await on_entry(entry)
        except asyncio.CancelledError:
            if watcher is not None:
                with contextlib.suppress(Exception):
                    await watcher.stop()  # type: ignore[no-untyped-call]
            raise
        except Exception as exc:  # noqa: BLE001 - a lost watch is re-opened
            log.warning("kv_watch_failed", watch=name, error=str(exc))
        watcher = None
        await asyncio.sleep(RETRY_SECONDS)
