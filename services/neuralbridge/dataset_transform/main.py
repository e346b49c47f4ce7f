"""Composition of the dataset-transform worker."""

from __future__ import annotations

import asyncio

from neuralbridge.core.service import Deps, ServiceSpec
from neuralbridge.core.settings import CommonSettings
from neuralbridge.core.topology import declare_work
from neuralbridge.dataset_transform.topology import transforms_work

__all__ = ["SERVICE", "main"]


async def main(deps: Deps[CommonSettings], stop: asyncio.Event) -> None:
    """Declare the work stream and its DLQ, then stay healthy until ``stop``."""
    await declare_work(deps.bus.js, transforms_work())
    await stop.wait()


SERVICE = ServiceSpec(
    name="dataset_transform",
    settings_type=CommonSettings,
    main=main,
    schema="dataset_transform",
)
