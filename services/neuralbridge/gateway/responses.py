"""Errors as HTTP responses, in OpenAI's error shape (see :mod:`neuralbridge.gateway.errors`).

Litestar's own exceptions are mapped onto the same shape: a validation error
names each field at fault (``param`` is the first), malformed JSON is 400
``invalid_json``, a body over ``GATEWAY_MAX_BODY_BYTES`` is 413
``request_too_large``, and anything unexpected is a 500 whose body says
nothing about the internals (the traceback goes to the log).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.types import (
    ExceptionHandlersMap,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Send,
)

from neuralbridge.gateway.errors import GatewayError

__all__ = [
    "EXCEPTION_HANDLERS",
    "ErrorBody",
    "ErrorDetail",
    "detail_for_error",
    "detail_for_problems",
    "gateway_error_body",
    "send_json",
    "unexpected_error_body",
]

log = structlog.get_logger()

_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 405: "invalid_request_error", 413: "invalid_request_error",
    422: "invalid_request_error", 429: "rate_limit_error",
}  # fmt: skip
_NAMED_FIELD = re.compile(r"field `([^`]+)`")
_CODES = {413: "request_too_large", 404: "not_found", 405: "method_not_allowed"}


class ErrorDetail(msgspec.Struct, frozen=True, kw_only=True):
    """What went wrong, OpenAI-style."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    """Every error response's body."""

    error: ErrorDetail


_JSON_TYPE = (b"content-type", b"application/json")
_encoder = msgspec.json.Encoder()


async def send_json(send: Send, status: int, body: Any, headers: dict[str, str]) -> None:
    """Send ``body`` as a whole JSON response straight on the ASGI ``send``."""
    payload = _encoder.encode(body)
    raw_headers = [_JSON_TYPE, (b"content-length", str(len(payload)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    start: HTTPResponseStartEvent = {
        "type": "http.response.start", "status": status, "headers": raw_headers
    }  # fmt: skip
    await send(start)
    body_event: HTTPResponseBodyEvent = {
        "type": "http.response.body", "body": payload, "more_body": False
    }  # fmt: skip
    await send(body_event)


def _response(
    status: int, detail: ErrorDetail, headers: dict[str, str] | None = None
) -> Response[ErrorBody]:
    return Response(ErrorBody(error=detail), status_code=status, headers=headers)


def detail_for_error(exc: GatewayError) -> ErrorDetail:
    """The error shape of a gateway error (its status is ``exc.status_code``)."""
    return ErrorDetail(message=exc.message, type=exc.error_type, param=exc.param, code=exc.code)


def detail_for_problems(problems: list[dict[str, Any]], summary: str) -> ErrorDetail:
    """The 400 error shape for validation problems (``{"key"?, "message"}`` each).

    The message names each field at fault and ``param`` is the first;
    ``summary`` is the message when there is no problem to list.
    """
    fields = [f for f in map(_field_of, problems) if f]
    if problems:
        message = "invalid request: " + "; ".join(
            f"{_field_of(e) or 'body'}: {e.get('message')}" for e in problems
        )
    else:
        message = f"invalid request: {summary}"
    return ErrorDetail(
        message=message, type="invalid_request_error", param=fields[0] if fields else None,
        code="invalid_request",
    )  # fmt: skip


def gateway_error_body(exc: GatewayError) -> ErrorBody:
    """The body of a gateway error's response (its status is ``exc.status_code``); logged."""
    log.info("request_failed", status=exc.status_code, code=exc.code)
    return ErrorBody(error=detail_for_error(exc))


def unexpected_error_body(exc: Exception) -> ErrorBody:
    """The body of the 500 for an unexpected exception: nothing about the internals.

    The exception and its traceback go to the log.
    """
    log.error("request_crashed", error_class=type(exc).__name__, exc_info=exc)
    detail = ErrorDetail(message="internal error", type="server_error", code="internal_error")
    return ErrorBody(error=detail)


def _gateway_error(_: Request[Any, Any, Any], exc: GatewayError) -> Response[ErrorBody]:
    return Response(gateway_error_body(exc), status_code=exc.status_code, headers=exc.headers())


def _field_of(problem: dict[str, Any]) -> str | None:
    """The field a validation problem is about: ``key``, or the one its message names."""
    key = problem.get("key")
    named = _NAMED_FIELD.search(str(problem.get("message", "")))
    if named is None:
        return None if key in (None, "data") else str(key)
    return named.group(1) if key in (None, "data") else f"{key}.{named.group(1)}"


def _validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    problems = [e for e in (exc.extra or []) if isinstance(e, dict)]
    return _response(400, detail_for_problems(problems, str(exc.detail)))


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    status = exc.status_code
    if isinstance(exc.__cause__, SerializationException):
        detail = ErrorDetail(
            message=f"malformed JSON body: {exc.detail}", type="invalid_request_error",
            code="invalid_json",
        )  # fmt: skip
        return _response(status, detail)
    detail = ErrorDetail(
        message=exc.detail, type=_TYPES.get(status, "api_error"), code=_CODES.get(status)
    )
    return _response(status, detail, dict(exc.headers or {}))


def _unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    return Response(unexpected_error_body(exc), status_code=500)


def _not_utf8(_: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[ErrorBody]:
    detail = ErrorDetail(
        message=f"the body is not valid UTF-8 (byte {exc.start})", type="invalid_request_error",
        code="invalid_utf8",
    )  # fmt: skip
    return _response(400, detail)


def _too_deep(_: Request[Any, Any, Any], exc: RecursionError) -> Response[ErrorBody]:
    # Only decoding nests without bound here: a body's arrays and objects.
    detail = ErrorDetail(
        message="the JSON body is nested too deeply", type="invalid_request_error",
        code="json_too_deep",
    )  # fmt: skip
    return _response(400, detail)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    GatewayError: _gateway_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    UnicodeDecodeError: _not_utf8,
    RecursionError: _too_deep,
    Exception: _unexpected,
}
