"""The reply every request/reply subject sends when its handler could not answer.

A responder (:mod:`neuralbridge.core.responder`) answers a request it cannot
decode, a refusal its handler raises, and any crash with an :class:`ErrorReply`
and the header :data:`ERROR_HEADER` naming the error class, so a caller tells an
error from a normal reply without guessing, and never waits for a timeout.
The JSON keeps the ``{"error": ..., "code": ...}`` shape callers already read.
"""

from __future__ import annotations

from neuralbridge.core.schemas import Message

__all__ = ["ERROR_HEADER", "ErrorReply"]

#: Header set on an error reply; its value is the error class.
ERROR_HEADER = "Nb-Error"


class ErrorReply(Message, frozen=True, kw_only=True):
    """A request that got no answer: why, in words safe to show (no secrets).

    Attributes:
        error: What went wrong, for a person.
        code: A stable machine-readable reason (``invalid_request``,
            ``internal_error``, or a handler's own code such as ``not_found``).
        error_class: The Python class of the error the responder caught.
    """

    error: str
    code: str
    error_class: str
