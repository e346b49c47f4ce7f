"""The gateway: HTTP/WebSocket front door (OpenAI-compatible API comes with its issue).

It holds no business logic: it validates, publishes to JetStream, awaits the
reply and streams it back. Today it serves its health endpoints and OpenAPI.
"""

from neuralbridge.gateway.main import SERVICE, GatewaySettings, create_app

__all__ = ["SERVICE", "GatewaySettings", "create_app"]
