"""The attacks run against the real gateway and pipeline: their fixtures, shared here."""

from __future__ import annotations

from tests.gateway.conftest import (
    fallback,
    pipeline,
    pipeline_env,
    pipeline_nats,
    primary,
    serve,
)

__all__ = ["fallback", "pipeline", "pipeline_env", "pipeline_nats", "primary", "serve"]
