"""The services ``nb up`` and ``nb serve`` know, in start-up order."""

from __future__ import annotations

from typing import Any

from neuralbridge.core.service import ServiceSpec

__all__ = ["SERVICE_NAMES", "service_specs"]

SERVICE_NAMES = ("dataset_transform", "proxy_pipeline", "trainer", "scheduler", "gateway")


def service_specs(names: tuple[str, ...] = SERVICE_NAMES) -> list[ServiceSpec[Any]]:
    """Import and return the specs of ``names`` (imports are deferred: start-up cost)."""
    from neuralbridge import dataset_transform, gateway, proxy_pipeline, scheduler, trainer

    known: dict[str, ServiceSpec[Any]] = {
        "dataset_transform": dataset_transform.SERVICE,
        "proxy_pipeline": proxy_pipeline.SERVICE,
        "trainer": trainer.SERVICE,
        "scheduler": scheduler.SERVICE,
        "gateway": gateway.SERVICE,
    }
    return [known[name] for name in names]
