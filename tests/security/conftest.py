"""The attacks run against the real services: the gateway's, pipeline's and trainer's fixtures."""

from __future__ import annotations

from tests.gateway.conftest import (
    fallback,
    pipeline,
    pipeline_env,
    pipeline_nats,
    primary,
    serve,
)
from tests.trainer.conftest import client_bus, clock, db, trainer, trainer_env, trainer_nats

__all__ = [
    "client_bus",
    "clock",
    "db",
    "fallback",
    "pipeline",
    "pipeline_env",
    "pipeline_nats",
    "primary",
    "serve",
    "trainer",
    "trainer_env",
    "trainer_nats",
]
