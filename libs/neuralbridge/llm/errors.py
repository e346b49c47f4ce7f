"""Errors raised by the chat-completion clients.

::

    NeuralBridgeError                           (neuralbridge.core.errors)
    └── JobError
        ├── PermanentError
        │   └── ProviderError                   (neuralbridge.core.providers.errors)
        │       └── LLMError                    the provider refused the request (400, 401,
        │           │                           403, 404, 422, ...): retrying cannot help
        │           ├── LLMConfigError          the profile or environment is wrong (unknown
        │           │                           provider, bad base_url, missing API key)
        │           └── LLMResponseError        a 200 answer whose body is not a completion
        └── RetryableError
            ├── ProviderUnavailable             (neuralbridge.core.providers.errors)
            │   └── LLMUnavailable              429, 5xx, timeouts or connection errors
            │                                   outlasted the in-call retries; ``delay``
            │                                   carries the server's Retry-After / rate-limit
            │                                   reset hint when it sent one
            └── LLMStreamBroken                 a stream failed after it started (cut
                                                connection, malformed chunk, no end marker):
                                                never retried in-call, because tokens already
                                                reached the caller

Permanent and retryable stay on separate branches, so the job runner sends an
``LLMError`` straight to the DLQ and redelivers after ``LLMUnavailable``, and
``tenacity`` retries by type alone (``LLMUnavailable`` only: an ``LLMStreamBroken``
is for the caller to handle, for example by falling back to another provider).
Messages name the provider, the HTTP status and the provider's own error text;
they never hold an API key or an ``Authorization`` header.
"""

from __future__ import annotations

from neuralbridge.core.errors import RetryableError
from neuralbridge.core.providers.errors import ProviderError, ProviderUnavailable

__all__ = [
    "LLMConfigError",
    "LLMError",
    "LLMResponseError",
    "LLMStreamBroken",
    "LLMUnavailable",
]


class LLMError(ProviderError):
    """A chat request the provider refused; no retry can fix it.

    Built like :class:`~neuralbridge.core.providers.errors.ProviderError`
    (``message``, ``status``).
    """

    error_class = "LLMError"


class LLMConfigError(LLMError):
    """The LLM profile or its environment is unusable; the message says why."""

    error_class = "LLMConfigError"


class LLMResponseError(LLMError):
    """A successful HTTP answer whose body is not a chat completion."""

    error_class = "LLMResponseError"


class LLMUnavailable(ProviderUnavailable):
    """The chat provider stayed unavailable until the answer or first token was due.

    Built like :class:`~neuralbridge.core.providers.errors.ProviderUnavailable`
    (``message``, ``delay``, ``error_type``, ``status``).
    """

    error_class = "LLMUnavailable"


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
