"""structlog configuration: JSON by default, console for humans, secrets scrubbed.

Configure once, in a composition root, with :func:`configure_logging`. Every
module then does ``log = structlog.get_logger()`` and logs snake_case events
with key-value fields. Context (``service``, ``job_id``, ``request_id``) is
bound through ``structlog.contextvars``; the current OpenTelemetry trace id is
added to every line; values of keys that look like credentials are masked, and
so are strings that look like API keys or passwords in URLs.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from opentelemetry import trace

__all__ = ["configure_logging", "scrub"]

# "token" only as a whole key or a suffix (access_token), so counts such as
# prompt_tokens stay readable.
_SECRET_KEY = re.compile(r"(?i)(api[_-]?key|secret|password|passwd|authorization|(^|[_-])token$)")
_SECRET_TEXT = re.compile(
    r"(sk-[A-Za-z0-9_\-]{12,}|(?<=://)[^:/@\s]+:[^@/\s]+(?=@)|Bearer\s+[A-Za-z0-9._\-]{8,})"
)
_MASK = "********"


def scrub(text: str) -> str:
    """Mask credential-looking substrings (API keys, URL passwords, bearer tokens)."""
    return _SECRET_TEXT.sub(_MASK, text)


def _scrub_processor(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if _SECRET_KEY.search(key) and value is not None:
            event[key] = _MASK
        elif isinstance(value, str):
            event[key] = scrub(value)
    return event


def _add_trace_id(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
    return event


def configure_logging(
    *,
    level: str = "info",
    fmt: str = "json",
    service: str | None = None,
    stream: TextIO | None = None,
) -> None:
    """Configure structlog (and route stdlib logging through the same level).

    Args:
        level: ``debug``, ``info``, ``warning`` or ``error``.
        fmt: ``json`` (one object per line) or ``console`` (coloured, for people).
        service: Bound as ``service`` on every line when given.
        stream: Where lines go; standard error by default.
    """
    numeric = logging.getLevelNamesMapping()[level.upper()]
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if fmt == "console" else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_trace_id,
            structlog.processors.format_exc_info,
            _scrub_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=stream or sys.stderr)
    if service:
        structlog.contextvars.bind_contextvars(service=service)
