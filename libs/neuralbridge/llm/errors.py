"""Errors raised by the chat-completion clients.

::

    NeuralBridgeError                       (neuralbridge.core.errors)
    └── JobError
        ├── PermanentError
        │   └── LLMError                    the provider refused the request (400, 401, 403,
        │       │                           404, 422, ...): retrying the same call cannot help
        │       ├── LLMConfigError          the profile or environment is wrong (unknown
        │       │                           provider, bad base_url, missing API key variable)
        │       └── LLMResponseError        a 200 answer whose body is not a chat completion
        └── RetryableError
            ├── LLMUnavailable              429, 5xx, timeouts or connection errors outlasted
            │                               the in-call retries; ``delay`` carries the server's
            │                               Retry-After / rate-limit reset hint when it sent one
            └── LLMStreamBroken             a stream failed after it started (cut connection,
                                            malformed chunk, no end marker): never retried
                                            in-call, because tokens already reached the caller

Permanent and retryable stay on separate branches, so the job runner sends an
``LLMError`` straight to the DLQ and redelivers after ``LLMUnavailable``, and
``tenacity`` retries by type alone (``LLMUnavailable`` only: an ``LLMStreamBroken``
is for the caller to handle, for example by falling back to another provider).
Messages name the provider, the HTTP status and the provider's own error text;
they never hold an API key or an ``Authorization`` header.
"""

from __future__ import annotations

from neuralbridge.core.errors import PermanentError, RetryableError

__all__ = [
    "LLMConfigError",
    "LLMError",
    "LLMResponseError",
    "LLMStreamBroken",
    "LLMUnavailable",
]


class LLMError(PermanentError):
    """A provider answer that no retry can fix.

    Args:
        message: Provider, HTTP status and the provider's error text (no secrets).
        status: The HTTP status, when the error came from an HTTP answer.
    """

    error_class = "LLMError"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LLMConfigError(LLMError):
    """The LLM profile or its environment is unusable; the message says why."""

    error_class = "LLMConfigError"


class LLMResponseError(LLMError):
    """A successful HTTP answer whose body is not a chat completion."""

    error_class = "LLMResponseError"


class LLMUnavailable(RetryableError):  # noqa: N818 - the public API names it so
    """The provider stayed unavailable (429, 5xx, timeout, connection) through every retry.

    Args:
        message: What happened on the last attempt (no secrets).
        delay: The server's Retry-After / reset hint in seconds, or ``None``.
        error_type: The metrics label of the failure (``rate_limited``,
            ``server_error``, ``timeout``, ``connection``).
        status: The last HTTP status, when there was one.
    """

    error_class = "LLMUnavailable"

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


class LLMStreamBroken(RetryableError):  # noqa: N818 - the public API names it so
    """A stream stopped after it had started; the text received so far is incomplete.

    Args:
        message: What broke (no secrets).
        received: How many text deltas reached the caller before the break.
    """

    error_class = "LLMStreamBroken"

    def __init__(self, message: str, *, received: int = 0) -> None:
        super().__init__(message)
        self.received = received
