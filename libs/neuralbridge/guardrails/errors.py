"""Errors raised by the guardrails.

::

    NeuralBridgeError                   (neuralbridge.core.errors)
    └── JobError
        └── PermanentError
            └── GuardrailError          base of every guardrail error
                └── InputRejected       the input breaks a hard limit (too long)

Guardrail errors are permanent: the same text gives the same verdict, so a job
that raised one goes to the DLQ at once instead of being retried. Messages name
the limit that was broken and the measured size, never the offending text.
"""

from __future__ import annotations

from neuralbridge.core.errors import PermanentError

__all__ = ["GuardrailError", "InputRejected"]


class GuardrailError(PermanentError):
    """Base class of the errors raised by :mod:`neuralbridge.guardrails`."""

    error_class = "GuardrailError"


class InputRejected(GuardrailError):  # noqa: N818 - reads as a verdict; name fixed by the API
    """The input breaks a hard limit and must not reach a provider.

    Args:
        message: Which limit was broken and by how much (safe to log).
        limit: The limit, for example the maximum number of characters.
        actual: The measured value that broke it.

    Attributes:
        limit: The limit that was broken.
        actual: The measured value.
    """

    error_class = "InputRejected"

    def __init__(self, message: str, *, limit: int, actual: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.actual = actual
