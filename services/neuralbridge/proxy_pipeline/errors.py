"""Why a request ends without an answer.

::

    NeuralBridgeError                   (neuralbridge.core.errors)
    └── RequestRefused                  answered with a ProxyFailure, then acked
        ├── GuardrailBlocked            prompt injection in the query
        ├── InputRefused                empty or over MAX_INPUT_CHARS
        ├── DeadlineExceeded            the request's deadline passed
        └── NoAnswer                    no provider answered (primary and API B failed);
                                        ``error_class`` is the LLM error's class

A refused request is a normal outcome, not a job failure: the handler replies
and returns, so the runner acks it and nothing is redelivered. Messages never
contain the query or any PII.
"""

from __future__ import annotations

from neuralbridge.core.errors import NeuralBridgeError

__all__ = ["DeadlineExceeded", "GuardrailBlocked", "InputRefused", "NoAnswer", "RequestRefused"]


class RequestRefused(NeuralBridgeError):  # noqa: N818 - an outcome, not a fault
    """Base of the outcomes answered with a ``ProxyFailure``.

    Args:
        message: Safe to send to the client and to log.
        error_class: The ``ProxyFailure.error_class``; defaults to the class's own.
    """

    error_class = "RequestRefused"

    def __init__(self, message: str, *, error_class: str | None = None) -> None:
        super().__init__(message)
        if error_class is not None:
            self.error_class = error_class


class GuardrailBlocked(RequestRefused):
    """The input guardrails refused the query (prompt injection)."""

    error_class = "GuardrailBlocked"


class InputRefused(RequestRefused):
    """The query is empty or longer than ``MAX_INPUT_CHARS``."""

    error_class = "InputRejected"


class DeadlineExceeded(RequestRefused):
    """The deadline passed before (or while) the request was answered."""

    error_class = "DeadlineExceeded"


class NoAnswer(RequestRefused):
    """Neither the primary provider nor API B produced an answer."""

    error_class = "NoAnswer"
