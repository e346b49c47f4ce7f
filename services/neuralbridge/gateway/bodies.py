"""Request bodies the gateway will read: a strict ``Content-Type`` before any byte of them.

Every route that takes a body takes one kind: JSON (``application/json`` or a
``+json`` type; ``charset`` may only be ``utf-8``), except the document upload
(``multipart/form-data``). A request whose body is of another kind is refused
with 415 naming ``Content-Type`` before the body is read, so no handler ever
guesses what the bytes are. A request without a body (``Content-Length: 0`` and
no chunked transfer) needs no type: ``POST /api/jobs/{id}/retry`` has none.

What the body holds is checked where it is decoded: malformed JSON, invalid
UTF-8 and nesting deeper than the decoder's limit are 400s
(:mod:`~.responses`), never a 500.
"""

from __future__ import annotations

import re

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

from neuralbridge.gateway.responses import ErrorBody, ErrorDetail, send_json

__all__ = ["media_type_problem", "require_media_type"]

_UPLOAD_PATH = re.compile(r"^/api/datasets/[^/]+/documents/?$")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_JSON = "application/json"
_MULTIPART = "multipart/form-data"


def _header(scope: HTTPScope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _has_body(scope: HTTPScope) -> bool:
    if _header(scope, b"transfer-encoding") is not None:
        return True
    length = _header(scope, b"content-length")
    return length is not None and length.strip() not in ("", "0")


def media_type_problem(scope: HTTPScope) -> str | None:
    """Why the request's ``Content-Type`` does not fit its route, or ``None``."""
    if scope["method"] not in _WITH_BODY or not _has_body(scope):
        return None
    expected = _MULTIPART if _UPLOAD_PATH.match(scope["path"]) else _JSON
    raw = _header(scope, b"content-type")
    if raw is None:
        return f"Content-Type is missing: this route reads {expected}"
    kind, _, params = raw.partition(";")
    kind = kind.strip().lower()
    fits = kind == expected or (
        expected == _JSON and kind.startswith("application/") and kind.endswith("+json")
    )
    if not fits:
        return f"Content-Type {kind or '(empty)'!r} is not accepted: this route reads {expected}"
    charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params, re.IGNORECASE)
    if expected == _JSON and charset and charset.group(1).lower() not in ("utf-8", "utf8"):
        return f"charset {charset.group(1)!r} is not accepted: JSON bodies are UTF-8"
    return None


def require_media_type(app: ASGIApp) -> ASGIApp:
    """Wrap ``app``: refuse a body of the wrong kind with 415 (see the module docstring)."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            problem = media_type_problem(scope)
            if problem is not None:
                detail = ErrorDetail(
                    message=problem, type="invalid_request_error", param="Content-Type",
                    code="unsupported_media_type",
                )  # fmt: skip
                await send_json(send, 415, ErrorBody(error=detail), {})
                return
        await app(scope, receive, send)

    return asgi
