"""Composition of the proxy_pipeline service."""

from __future__ import annotations

import asyncio

from neuralbridge.core.service import Deps, ServiceSpec
from neuralbridge.core.settings import CommonSettings

__all__ = ["SERVICE", "main"]


async def main(deps: Deps[CommonSettings], stop: asyncio.Event) -> None:
    """Stay connected and healthy until ``stop`` is set."""
    await stop.wait()


SERVICE = ServiceSpec(
    name="proxy_pipeline", settings_type=CommonSettings, main=main, schema="proxy_pipeline"
)
