"""The gateway's route handlers, one module per API: the seed's REST API, OpenAI's, probes."""

from neuralbridge.gateway.routes.feedback import feedback_router
from neuralbridge.gateway.routes.openai import openai_router
from neuralbridge.gateway.routes.probes import healthz, readyz
from neuralbridge.gateway.routes.proxy import proxy_router

__all__ = ["feedback_router", "healthz", "openai_router", "proxy_router", "readyz"]
