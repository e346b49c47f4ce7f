"""Errors raised by the embedder clients.

::

    NeuralBridgeError                           (neuralbridge.core.errors)
    └── JobError
        ├── PermanentError
        │   └── ProviderError                   (neuralbridge.core.providers.errors)
        │       └── EmbedderError               the provider refused the request (400, 401,
        │           │                           403, 404, 422, ...): retrying cannot help
        │           ├── EmbedderConfigError     the profile or environment is wrong (missing
        │           │   │                       API key variable, unknown provider, extra)
        │           │   └── UnknownEmbedderProfileError   no configured profile has that name
        │           └── EmbedderResponseError   a 200 answer without one vector per input
        └── RetryableError
            └── ProviderUnavailable             (neuralbridge.core.providers.errors)
                └── EmbedderUnavailable         429, 5xx, timeouts or connection errors
                                                outlasted the in-call retries; ``delay``
                                                carries the server's Retry-After / rate-limit
                                                reset hint when it sent one

Permanent and retryable stay on separate branches, so the job runner sends an
``EmbedderError`` straight to the DLQ and redelivers after ``EmbedderUnavailable``
(honouring its ``delay``), and ``tenacity`` retries by type alone. Messages name
the provider, the HTTP status and the provider's own error text; they never hold
an API key or an ``Authorization`` header.
"""

from __future__ import annotations

from neuralbridge.core.providers.errors import ProviderError, ProviderUnavailable

__all__ = [
    "EmbedderConfigError",
    "EmbedderError",
    "EmbedderResponseError",
    "EmbedderUnavailable",
    "UnknownEmbedderProfileError",
]


class EmbedderError(ProviderError):
    """An embedding request the provider refused; no retry can fix it.

    Built like :class:`~neuralbridge.core.providers.errors.ProviderError`
    (``message``, ``status``).
    """

    error_class = "EmbedderError"


class EmbedderConfigError(EmbedderError):
    """The embedder profile or its environment is unusable; the message says why."""

    error_class = "EmbedderConfigError"


class UnknownEmbedderProfileError(EmbedderConfigError):
    """A job or request named a profile this process does not configure."""

    error_class = "UnknownEmbedderProfile"


class EmbedderResponseError(EmbedderError):
    """A successful HTTP answer whose body is malformed (wrong vector count, missing fields)."""

    error_class = "EmbedderResponseError"


class EmbedderUnavailable(ProviderUnavailable):
    """The embedding provider stayed unavailable through every in-call retry.

    Built like :class:`~neuralbridge.core.providers.errors.ProviderUnavailable`
    (``message``, ``delay``, ``error_type``, ``status``); the job runner
    redelivers after ``delay`` when the server sent a hint.
    """

    error_class = "EmbedderUnavailable"
