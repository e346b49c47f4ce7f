"""The two error branches every provider client (embedders, LLMs) builds on.

::

    JobError                                (neuralbridge.core.errors)
    ├── PermanentError
    │   └── ProviderError                   the provider refused the request; ``status``
    │       │                               holds the HTTP status when there was one
    │       ├── EmbedderError               (neuralbridge.embedders.errors)
    │       └── LLMError                    (neuralbridge.llm.errors)
    └── RetryableError
        └── ProviderUnavailable             429, 5xx, timeout or connection failure;
            │                               ``delay`` carries the server's wait hint,
            │                               ``error_type`` the metrics label
            ├── EmbedderUnavailable         (neuralbridge.embedders.errors)
            └── LLMUnavailable              (neuralbridge.llm.errors)

Each client package subclasses these under its own public names and
``error_class`` strings; the shared HTTP layer (:mod:`neuralbridge.core.providers.http`)
builds whichever subclasses a client names. Retryable and permanent stay on
separate branches, so ``tenacity`` retries by type alone.
"""

from __future__ import annotations

from neuralbridge.core.errors import PermanentError, RetryableError

__all__ = ["ProviderError", "ProviderUnavailable"]


class ProviderError(PermanentError):
    """A provider answer that no retry can fix.

    Args:
        message: Provider, HTTP status and the provider's error text (no secrets).
        status: The HTTP status, when the error came from an HTTP answer.
    """

    error_class = "ProviderError"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ProviderUnavailable(RetryableError):  # noqa: N818 - pairs with the public *Unavailable names
    """The provider could not answer now (429, 5xx, timeout, connection).

    Args:
        message: What happened (no secrets).
        delay: The server's Retry-After / rate-limit reset hint in seconds, or ``None``.
        error_type: The metrics label of the failure (``rate_limited``,
            ``server_error``, ``timeout``, ``connection``).
        status: The HTTP status, when there was one.
    """

    error_class = "ProviderUnavailable"

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
