"""Messages that cross a process boundary, and their one codec.

Every message is a frozen, keyword-only ``msgspec.Struct`` deriving from
:class:`Message`, JSON on the wire, carrying ``schema_version``. Schemas evolve
only by adding fields with defaults, so old producers and new consumers (and
the reverse) keep working. Decoding never raises anything but
:class:`~neuralbridge.core.errors.PayloadError`, which the job runner routes to
the DLQ at once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar

import msgspec

from neuralbridge.core.errors import PayloadError

__all__ = ["Message", "decode", "encode"]

M = TypeVar("M", bound="Message")

_ENCODER = msgspec.json.Encoder()


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every cross-process message."""

    schema_version: int = 1


@lru_cache(maxsize=256)
def _decoder(message_type: type[Any]) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(message_type)


def encode(message: msgspec.Struct) -> bytes:
    """Encode a message to JSON bytes."""
    return _ENCODER.encode(message)


def decode(data: bytes, message_type: type[M]) -> M:
    """Decode JSON bytes into ``message_type``.

    Raises:
        PayloadError: the body is not JSON or does not match the schema; the
            message says which field and why.
    """
    try:
        result: M = _decoder(message_type).decode(data)
    except msgspec.ValidationError as exc:
        raise PayloadError(f"invalid {message_type.__name__}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise PayloadError(f"malformed JSON for {message_type.__name__}: {exc}") from None
    return result
