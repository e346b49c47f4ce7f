"""Errors raised by the embedder clients.

::

    NeuralBridgeError                       (neuralbridge.core.errors)
    └── JobError
        ├── PermanentError
        │   └── EmbedderError               the provider refused the request (400, 401, 403,
        │       │                           404, 422, ...): retrying the same call cannot help
        │       ├── EmbedderConfigError     the profile or environment is wrong (missing API
        │       │                           key variable, unknown provider, missing extra)
        │       └── EmbedderResponseError   a 200 answer that does not hold one vector per input
        └── RetryableError
            └── EmbedderUnavailable         429, 5xx, timeouts or connection errors outlasted
                                            the in-call retries; ``delay`` carries the server's
                                            Retry-After / rate-limit reset hint when it sent one

Permanent and retryable stay on separate branches, so the job runner sends an
``EmbedderError`` straight to the DLQ and redelivers after ``EmbedderUnavailable``
(honouring its ``delay``), and ``tenacity`` retries by type alone. Messages name
the provider, the HTTP status and the provider's own error text; they never hold
an API key or an ``Authorization`` header.
"""

from __future__ import annotations

from neuralbridge.core.errors import PermanentError, RetryableError

__all__ = [
    "EmbedderConfigError",
    "EmbedderError",
    "EmbedderResponseError",
    "EmbedderUnavailable",
]


class EmbedderError(PermanentError):
    """A provider answer that no retry can fix.

    Args:
        message: Provider, HTTP status and the provider's error text (no secrets).
        status: The HTTP status, when the error came from an HTTP answer.
    """

    error_class = "EmbedderError"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class EmbedderConfigError(EmbedderError):
    """The embedder profile or its environment is unusable; the message says why."""

    error_class = "EmbedderConfigError"


class EmbedderResponseError(EmbedderError):
    """A successful HTTP answer whose body is malformed (wrong vector count, missing fields)."""

    error_class = "EmbedderResponseError"


class EmbedderUnavailable(RetryableError):  # noqa: N818 - the public API names it so
    """The provider stayed unavailable (429, 5xx, timeout, connection) through every retry.

    Args:
        message: What happened on the last attempt (no secrets).
        delay: The server's Retry-After / reset hint in seconds, or ``None``.
        error_type: The metrics label of the last failure (``rate_limited``,
            ``server_error``, ``timeout``, ``connection``).
        status: The last HTTP status, when there was one.
    """

    error_class = "EmbedderUnavailable"

    def __init__(
        self,
        message: str,
        *,
        delay: float | None = None,
        error_type: str = "server_error",
        status: int | None = None,
    ) -> None:
        super().__init__(message, delay=delay)
        self.error_type = error_type
        self.status = status
