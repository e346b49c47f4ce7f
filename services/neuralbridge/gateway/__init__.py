"""The gateway: HTTP front door of NeuralBridge (seed 003's REST API, OpenAI-compatible API).

It holds no business logic: it authenticates and rate-limits the caller,
validates, publishes a ``ProxyRequest`` to JetStream, awaits the pipeline's
replies on a per-request inbox (with the request's deadline) and sends them
back — as JSON, as OpenAI server-sent events, or as WebSocket events. Modules:

* :mod:`~neuralbridge.gateway.app` — ``create_app()``; :mod:`~.main` — composition;
* :mod:`~neuralbridge.gateway.proxy_client` — publish and read replies (dedup, deadline);
* :mod:`~neuralbridge.gateway.queries`, :mod:`~.openai_wire`, :mod:`~.sse`, :mod:`~.ws_wire` —
  wire shapes (``ws_wire``: the ``/api/proxy/stream`` WebSocket's events);
* :mod:`~neuralbridge.gateway.access`, :mod:`~.ratelimit` — API keys and token buckets;
* :mod:`~neuralbridge.gateway.errors`, :mod:`~.responses` — errors mirrored on HTTP status;
* :mod:`~neuralbridge.gateway.health`, :mod:`~.stats` — the monitoring endpoints.
"""

from neuralbridge.gateway.app import GatewayParts, create_app
from neuralbridge.gateway.main import SERVICE, build_parts
from neuralbridge.gateway.settings import GatewaySettings

__all__ = ["SERVICE", "GatewayParts", "GatewaySettings", "build_parts", "create_app"]
