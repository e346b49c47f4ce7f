"""One canonical log line per HTTP request: method, path, status, duration, request id.

The request id is the pipeline request's (bound by the proxy client when the
request was published), so the line joins the pipeline's ``proxy_answered``.
No query, body, header or key is logged.
"""

from __future__ import annotations

import time

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["log_requests"]

log = structlog.get_logger()


def log_requests(app: ASGIApp) -> ASGIApp:
    """Litestar middleware: log ``http_request`` once each HTTP request ends."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method = scope["method"]
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            log.info(
                "http_request", method=method, path=scope["path"], status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )  # fmt: skip
            structlog.contextvars.unbind_contextvars("request_id")

    return middleware
