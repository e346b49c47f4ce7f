"""The wire shapes of ``/api/proxy/stream`` (the protocol: :mod:`~.routes.stream`).

A client message is a :class:`~neuralbridge.gateway.queries.QueryInput` in
JSON (text or binary frame); :func:`read_question` decodes it, or says in an
:class:`ErrorEvent` what is wrong with it, the way ``POST /api/proxy/query``
would (same field names in ``param``, same statuses). Server events are a
tagged union on ``type``, sent as JSON text frames by :func:`encode_event`.
"""

from __future__ import annotations

import msgspec

from neuralbridge.gateway.errors import GatewayError
from neuralbridge.gateway.queries import QueryAnswer, QueryInput
from neuralbridge.gateway.responses import ErrorDetail, detail_for_error, detail_for_problems

__all__ = [
    "AnswerEvent",
    "DeltaEvent",
    "ErrorEvent",
    "ResetEvent",
    "StreamEvent",
    "encode_event",
    "error_event",
    "read_question",
]

_PATH = " - at `$."


class DeltaEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="delta"):
    """A piece of the answer, as the LLM produced it."""

    request_id: str
    text: str


class ResetEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="reset"):
    """Discard the text streamed so far: the pipeline fell back to another answer."""

    request_id: str


class AnswerEvent(QueryAnswer, frozen=True, kw_only=True, tag_field="type", tag="answer"):
    """The final answer, authoritative over the deltas: ``POST /api/proxy/query``'s body."""


class ErrorEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="error"):
    """The question ends without an answer; ``status`` is what the POST would answer."""

    request_id: str | None
    error: ErrorDetail
    status: int


StreamEvent = DeltaEvent | ResetEvent | AnswerEvent | ErrorEvent

_encoder = msgspec.json.Encoder()
_questions = msgspec.json.Decoder(QueryInput)


def encode_event(event: StreamEvent) -> str:
    """``event`` as the JSON text of one frame."""
    return _encoder.encode(event).decode()


def error_event(exc: GatewayError, request_id: str | None = None) -> ErrorEvent:
    """The event for a gateway error (mapped as for HTTP, see ``errors.py``)."""
    return ErrorEvent(request_id=request_id, error=detail_for_error(exc), status=exc.status_code)


def read_question(data: str | bytes, *, max_bytes: int) -> QueryInput | ErrorEvent:
    """The question in one client message, or the error event naming what is wrong."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > max_bytes:
        detail = ErrorDetail(
            message=f"message larger than {max_bytes} bytes", type="invalid_request_error",
            code="request_too_large",
        )  # fmt: skip
        return ErrorEvent(request_id=None, error=detail, status=413)
    try:
        return _questions.decode(raw)
    except msgspec.ValidationError as exc:
        message, _, path = str(exc).partition(_PATH)
        problem = {"key": path.rstrip("`") or None, "message": message}
        detail = detail_for_problems([problem], message)
        return ErrorEvent(request_id=None, error=detail, status=400)
    except msgspec.DecodeError as exc:
        return _unreadable(f"malformed JSON message: {exc}", "invalid_json")
    except UnicodeDecodeError as exc:  # a binary frame: text frames are checked by the protocol
        return _unreadable(f"the message is not valid UTF-8 (byte {exc.start})", "invalid_utf8")
    except RecursionError:
        return _unreadable("the JSON message is nested too deeply", "json_too_deep")


def _unreadable(message: str, code: str) -> ErrorEvent:
    detail = ErrorDetail(message=message, type="invalid_request_error", code=code)
    return ErrorEvent(request_id=None, error=detail, status=400)
