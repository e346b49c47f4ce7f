"""The OpenAPI document as the gateway's contract: what Litestar generates, made exact.

Litestar documents each route's success body and a validation 400 in its own
error shape, which the gateway never sends. :func:`refine` rewrites the
generated document so that it says what the gateway does:

* every error status a route can answer, each with :class:`~.responses.ErrorBody`
  (OpenAI's ``{"error": {message, type, param, code}}``): the statuses every
  route shares (400 for a bad parameter or body, 401 with keys on, 413/415 for
  bodies, 429, 500), 403 on admin routes, and the statuses of the route's family
  (404 for ids, 409 for job actions, 422 for refused questions, 502/503/504 when
  the service behind the route fails, is missing or is late);
* ``/api/proxy/health`` answers 503 with its own report, not an error body;
* each JSON request body is described by msgspec's own schema of the struct the
  route decodes strictly (:mod:`~.jsonbody`): the same constraints, defaults and
  ``additionalProperties: false`` where unknown fields are refused;
* path and query parameters carry the patterns the routes check;
* ``messages`` of a chat request must contain a user message with text.

:class:`ContractJSON` serves the refined document at ``/schema/openapi.json``.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import OpenAPIMediaType
from litestar.openapi.plugins import OpenAPIRenderPlugin

from neuralbridge.gateway.jsonbody import BODIES
from neuralbridge.gateway.routes.learning import WEEK_PATTERN

__all__ = ["ContractJSON", "refine"]

_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_ERROR_SCHEMAS = {
    "ErrorDetail": {
        "type": "object",
        "title": "ErrorDetail",
        "required": ["message", "type"],
        "properties": {
            "message": {"type": "string"},
            "type": {"type": "string"},
            "param": {"oneOf": [{"type": "string"}, {"type": "null"}]},
            "code": {"oneOf": [{"type": "string"}, {"type": "null"}]},
        },
    },
    "ErrorBody": {
        "type": "object",
        "title": "ErrorBody",
        "required": ["error"],
        "properties": {"error": {"$ref": "#/components/schemas/ErrorDetail"}},
    },
}
_DESCRIPTIONS = {
    400: "A parameter or the body is invalid (``param`` names it)",
    401: "No API key, or an unknown one (API keys on)",
    403: "The key is a user key; this route needs an admin key",
    404: "The id names nothing",
    409: "The run's status does not allow the action",
    413: "The body is larger than GATEWAY_MAX_BODY_BYTES",
    415: "The body is not of the kind the route reads (Content-Type)",
    422: "Well-formed but refused for what it says (a question the guardrails refuse, "
    "an embedder profile nobody configured)",
    429: "A rate limit was hit (Retry-After)",
    500: "Internal error (nothing about it is disclosed)",
    502: "The service behind the route failed",
    503: "No service instance can take the request now",
    504: "The service behind the route did not answer in time",
}
#: One server-sent event of a streamed chat completion.
_SSE_EVENT = {
    "type": "object",
    "description": (
        "With stream=true, server-sent events: each `data` holds a chat.completion.chunk "
        "as JSON; the last one is `[DONE]`"
    ),
    "required": ["data"],
    "properties": {"data": {"type": "string"}, "event": {"type": "string"}},
}
_EVERY_ROUTE = (401, 429, 500)
_UPSTREAM = (502, 503, 504)
#: Statuses of each route family, by path prefix (the longest prefix that matches wins).
_FAMILIES: dict[str, tuple[int, ...]] = {
    "/api/proxy/query": (422, *_UPSTREAM),
    "/v1/chat/completions": (422, *_UPSTREAM),
    "/api/proxy/health": (),
    "/api/proxy/stats": (),
    "/v1/models": (),
    "/v1/embeddings": _UPSTREAM,
    "/api/feedback": (404, 503, 504),
    "/api/datasets": (403, *_UPSTREAM),
    "/api/uploads": (403, 404, *_UPSTREAM),
    "/api/transforms": (403, 404, 422, *_UPSTREAM),
    "/api/jobs": (403, 404, 409, *_UPSTREAM),
    "/api/learning": (403, 404, *_UPSTREAM),
}
_TEXT = {"type": "string", "pattern": r"\S"}
#: What a chat request's ``messages`` must contain: a user message with text.
_USER_MESSAGE_WITH_TEXT = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"const": "user"},
        "content": {
            "anyOf": [
                _TEXT,
                {
                    "type": "array",
                    "contains": {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {"type": {"const": "text"}, "text": _TEXT},
                    },
                },
            ]
        },
    },
}
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
#: Patterns of the parameters the routes check before anything reaches NATS.
_PARAMETER_PATTERNS = {
    "dataset": r"^[A-Za-z0-9_-]{1,200}$",
    "upload_id": _UUID,
    "transform_id": _UUID,
    "week": WEEK_PATTERN,
}


def _family(path: str) -> tuple[int, ...]:
    matches = [prefix for prefix in _FAMILIES if path.startswith(prefix)]
    return _FAMILIES[max(matches, key=len)] if matches else _UPSTREAM


def _error_statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    statuses = {*_EVERY_ROUTE, *_family(path)}
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add(400)
    if method in ("post", "put", "patch") and operation.get("requestBody"):
        statuses.update((413, 415))
    return statuses


def _refine_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    body = BODIES.get((method, path))
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _ref(body.__name__)}}},
        }
    for parameter in operation.get("parameters", []):
        pattern = _PARAMETER_PATTERNS.get(parameter.get("name", ""))
        if pattern is not None:
            parameter.setdefault("schema", {})["pattern"] = pattern
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in sorted(_error_statuses(path, method, operation)):
        responses[str(status)] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"schema": _ERROR_REF}},
        }
    if path == "/v1/chat/completions" and "200" in responses:
        content = responses["200"].setdefault("content", {})
        content["text/event-stream"] = {"schema": _SSE_EVENT}
    if path == "/api/proxy/health":
        ok = responses.get("200", {})
        responses["503"] = {**ok, "description": "A dependency is down (the same report)"}


def _ref(name: str) -> str:
    return f"#/components/schemas/{name}"


def _refine_components(schemas: dict[str, Any]) -> None:
    schemas.update(copy.deepcopy(_ERROR_SCHEMAS))
    bodies = sorted(set(BODIES.values()), key=lambda kind: kind.__name__)
    _, components = msgspec.json.schema_components(bodies, ref_template=_ref("{name}"))
    schemas.update(components)
    transform = schemas.get("TransformInput")
    if transform is not None:  # one chunk is addressed inside one document
        transform["if"] = {
            "required": ["chunk_index"],
            "properties": {"chunk_index": {"type": "integer"}},
        }
        transform["then"] = {
            "required": ["source_file"],
            "properties": {"source_file": {"type": "string"}},
        }
    chat = schemas.get("ChatRequest")
    if chat is not None:
        chat["properties"]["messages"]["contains"] = _USER_MESSAGE_WITH_TEXT


def refine(schema: dict[str, Any]) -> dict[str, Any]:
    """The generated OpenAPI document made exact (see the module docstring); a new copy."""
    refined = copy.deepcopy(schema)
    for path, item in refined.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                _refine_operation(path, method, operation)
    _refine_components(refined.setdefault("components", {}).setdefault("schemas", {}))
    return refined


class ContractJSON(OpenAPIRenderPlugin):
    """Serve the refined OpenAPI document as JSON (``/schema/openapi.json``)."""

    def __init__(self) -> None:
        super().__init__(path="/openapi.json", media_type=OpenAPIMediaType.OPENAPI_JSON)
        self._rendered: bytes | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The refined document (built once: the routes never change after start)."""
        if self._rendered is None:
            self._rendered = msgspec.json.encode(refine(openapi_schema))
        return self._rendered
