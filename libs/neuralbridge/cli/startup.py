"""What ``nb up`` and ``nb serve`` check before connecting anywhere, and how Qdrant opens.

A start-up error that no retry can fix stops the process with one line (a
:class:`~neuralbridge.core.errors.ConfigError`: exit 2) naming the cause and
the fix, before anything else starts:

- a port the process listens on is taken (``METRICS_PORT``, ``GATEWAY_PORT``);
- a service that needs Qdrant has neither ``QDRANT_URL`` nor ``QDRANT_PATH``;
- ``QDRANT_PATH`` is held by another process (local mode allows one per directory);
- the server at ``QDRANT_URL`` does not answer within ``QDRANT_CONNECT_WITHIN``
  seconds of retries, or refuses ``QDRANT_API_KEY``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any

import structlog
from qdrant_client import AsyncQdrantClient
from qdrant_client.http.exceptions import UnexpectedResponse

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.ports import ensure_ports_free, listening_ports
from neuralbridge.core.service import ServiceSpec
from neuralbridge.core.settings import CommonSettings, load_settings, redact_url

__all__ = ["NEEDS_QDRANT", "QDRANT_CONNECT_WITHIN", "check_before_start", "open_qdrant"]

log = structlog.get_logger()

#: The services that cannot run without Qdrant (the trainer uses it only when set).
NEEDS_QDRANT = frozenset({"dataset_transform", "proxy_pipeline"})
#: Seconds a Qdrant server may take to answer at start before the process gives up.
QDRANT_CONNECT_WITHIN = 5.0
#: How qdrant-client words a local-mode directory that another process has locked.
_HELD = "is already accessed by another instance"


def check_before_start(specs: Sequence[ServiceSpec[Any]], env: Mapping[str, str]) -> None:
    """Fail at once, with one line, on what would make the start fail later.

    Raises:
        ConfigError: Qdrant is needed but not configured, two settings name the
            same port, or a port is taken.
    """
    common = load_settings(CommonSettings, env)
    needing = [spec.name for spec in specs if spec.name in NEEDS_QDRANT]
    if needing and not (common.qdrant_url or common.qdrant_path):
        verb = "needs" if len(needing) == 1 else "need"
        raise ConfigError(
            f"configuration error: {' and '.join(needing)} {verb} Qdrant: set QDRANT_URL to a "
            "Qdrant server (or QDRANT_PATH to a local-mode directory only this process uses)"
        )
    ports = listening_ports(CommonSettings, env)
    for spec in specs:
        ports |= listening_ports(spec.settings_type, env)
    seen: dict[int, str] = {}
    for setting, port in ports.items():
        if port in seen:
            raise ConfigError(
                f"configuration error: {seen[port]} and {setting} are both {port}; "
                "give each its own port"
            )
        seen[port] = setting
    ensure_ports_free(common.bind_host, ports)


async def open_qdrant(
    common: CommonSettings,
    health: HealthServer,
    stack: AsyncExitStack,
    *,
    within: float = QDRANT_CONNECT_WITHIN,
) -> AsyncQdrantClient | None:
    """The process's one Qdrant client (local mode allows one per directory), or ``None``.

    A server (``QDRANT_URL``) must answer within ``within`` seconds; a
    local-mode directory (``QDRANT_PATH``) must not be held by another process.

    Raises:
        ConfigError: the server did not answer in time or refused the API key,
            or the directory is held by another process.
    """
    if common.qdrant_url:
        key = common.qdrant_api_key.reveal() if common.qdrant_api_key else None
        # The client's version check runs in a thread of its own and prints a
        # warning when the server is down: reaching the server is checked here.
        client = AsyncQdrantClient(url=common.qdrant_url, api_key=key, check_compatibility=False)
        stack.push_async_callback(client.close)
        await _reach(client, redact_url(common.qdrant_url), within)
    elif common.qdrant_path:
        client = _open_local(common.qdrant_path)
        stack.push_async_callback(client.close)
    else:
        return None

    async def qdrant_ready() -> None:
        await client.get_collections()

    health.add_check("qdrant", qdrant_ready)
    return client


def _open_local(path: str) -> AsyncQdrantClient:
    try:
        return AsyncQdrantClient(path=path)
    except RuntimeError as exc:
        if _HELD not in str(exc):
            raise
        raise ConfigError(
            f"configuration error: QDRANT_PATH={path} is in use by another process (Qdrant "
            "local mode allows one process per directory); set QDRANT_URL to a Qdrant server "
            "the services share, or give this process a QDRANT_PATH of its own"
        ) from None


async def _reach(client: AsyncQdrantClient, shown: str, within: float) -> None:
    """Retry listing collections until the server answers; ``ConfigError`` past ``within``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last = "no answer"
    while True:
        left = deadline - loop.time()
        try:
            await asyncio.wait_for(client.get_collections(), max(left, 0.1))
        except UnexpectedResponse as exc:
            if exc.status_code in (401, 403):
                raise ConfigError(
                    f"configuration error: the Qdrant server at {shown} refused the request "
                    f"(HTTP {exc.status_code}); check QDRANT_API_KEY"
                ) from None
            last = f"HTTP {exc.status_code}"
        except Exception as exc:  # noqa: BLE001 - any failure to answer is retried until the deadline
            last = type(exc).__name__
        else:
            log.info("qdrant_connected", url=shown)
            return
        if loop.time() + 0.5 >= deadline:
            raise ConfigError(
                f"configuration error: QDRANT_URL: no Qdrant server answered at {shown} within "
                f"{within:g}s ({last}); start it or correct QDRANT_URL"
            )
        await asyncio.sleep(0.5)
