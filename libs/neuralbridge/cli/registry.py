"""The services ``nb up`` and ``nb serve`` know, in start-up order.

Each service is imported by name, only when asked for: ``nb serve gateway``
imports the gateway alone, so its process registers no other service's
metrics, and ``nb up`` imports all five.
"""

from __future__ import annotations

import importlib
from typing import Any

from neuralbridge.core.service import ServiceSpec

__all__ = ["SERVICE_NAMES", "service_specs"]

SERVICE_NAMES = ("dataset_transform", "proxy_pipeline", "trainer", "scheduler", "gateway")


def service_specs(names: tuple[str, ...] = SERVICE_NAMES) -> list[ServiceSpec[Any]]:
    """Import ``names`` (and nothing else) and return their specs, in the order given.

    Raises:
        ValueError: a name is not one of :data:`SERVICE_NAMES`.
    """
    unknown = [name for name in names if name not in SERVICE_NAMES]
    if unknown:
        raise ValueError(f"unknown service {unknown[0]!r}: expected one of {SERVICE_NAMES}")
    specs: list[ServiceSpec[Any]] = []
    for name in names:
        spec = importlib.import_module(f"neuralbridge.{name}").SERVICE
        specs.append(spec)
    return specs
