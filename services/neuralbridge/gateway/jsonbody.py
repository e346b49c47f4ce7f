"""Request bodies decoded strictly, exactly as the OpenAPI document describes them.

Litestar converts a ``data`` body with ``strict=False``, so ``"1"`` became an
integer and ``0`` a boolean: a request the document calls invalid was
answered. Routes read their body with :func:`read_json` instead: one reused
:class:`msgspec.json.Decoder` per type, the same strict decoding as the fast
path and the WebSocket (save that ``4.0`` is the integer 4, as JSON Schema says).
A body that does not decode is a 400 naming the field
(``invalid_request``) or saying where the JSON breaks (``invalid_json``); a body
over ``GATEWAY_MAX_BODY_BYTES`` is refused by Litestar with 413 while it is read.
The document describes each such body through :data:`BODIES` (see
:mod:`~.contract`).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request

from neuralbridge.gateway.errors import InvalidRequestError

__all__ = ["BODIES", "BodyError", "declare_body", "read_json"]

T = TypeVar("T")

_PATH = " - at `$."
_NAMED_FIELD = re.compile(r"(?:unknown|required) field `([^`]*)`")
#: The JSON body each (method, path) reads, for the OpenAPI document.
BODIES: dict[tuple[str, str], type[msgspec.Struct]] = {}
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


class BodyError(InvalidRequestError):
    """The body is not JSON, or not the route's request type (400)."""


def declare_body(method: str, path: str, kind: type[msgspec.Struct]) -> None:
    """Record that ``method path`` reads a ``kind`` body (for the OpenAPI document)."""
    BODIES[(method.lower(), path)] = kind


async def read_json(request: Request[Any, Any, Any], kind: type[T]) -> T:
    """The request's body decoded strictly as ``kind``.

    Raises:
        BodyError: malformed JSON, or a field missing, unknown or of the wrong type
            (``param`` names it).
    """
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    body = await request.body()
    if not body:
        raise BodyError("the request needs a JSON body", code="invalid_json", param="body")
    try:
        value: T = _decode(decoder, body, kind)
    except msgspec.ValidationError as exc:
        message, _, path = str(exc).partition(_PATH)
        field = _field(path.rstrip("`"), _NAMED_FIELD.search(message))
        named = f"{field}: {message}" if field else message
        raise BodyError(f"invalid request: {named}", code="invalid_request", param=field) from None
    except msgspec.DecodeError as exc:
        raise BodyError(f"malformed JSON body: {exc}", code="invalid_json") from None
    return value


def _decode(decoder: msgspec.json.Decoder[T], body: bytes, kind: type[T]) -> T:
    """Decode strictly; a whole number written ``4.0`` still counts as the integer 4.

    JSON Schema (and so the OpenAPI document) calls ``4.0`` an integer; msgspec's
    strict decoding does not. Only when that is what failed is the body decoded
    again, with every integral float made an int (a float field takes an int).
    """
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        if "got `float`" not in str(exc):
            raise
    loose = _integral_floats_as_ints(msgspec.json.decode(body))
    return msgspec.convert(loose, kind, strict=True)


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    return value


def _field(path: str, named: re.Match[str] | None) -> str | None:
    """The field at fault: the path to it, and the field a message names under it."""
    if named is None:
        return path or None
    return f"{path}.{named.group(1)}" if path else named.group(1)
