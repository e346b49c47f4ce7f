"""The gateway's route handlers, one module per API: REST, WebSocket, OpenAI's, probes."""

from neuralbridge.gateway.routes.datasets import datasets_router
from neuralbridge.gateway.routes.feedback import feedback_router
from neuralbridge.gateway.routes.jobs import jobs_router
from neuralbridge.gateway.routes.learning import learning_router
from neuralbridge.gateway.routes.openai import openai_router
from neuralbridge.gateway.routes.probes import healthz, readyz
from neuralbridge.gateway.routes.proxy import proxy_router
from neuralbridge.gateway.routes.stream import proxy_stream

__all__ = [
    "datasets_router",
    "feedback_router",
    "healthz",
    "jobs_router",
    "learning_router",
    "openai_router",
    "proxy_router",
    "proxy_stream",
    "readyz",
]
