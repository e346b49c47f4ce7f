"""The error hierarchy every NeuralBridge package raises from.

::

    NeuralBridgeError
    ├── ConfigError                 a setting is missing or malformed (service stops at start)
    ├── EmbeddedRuntimeError        an embedded server (nats-server, PostgreSQL) failed to start
    ├── MigrationError              a SQL migration failed or was edited after being applied
    ├── TopologyError               a stream/consumer cannot be declared or updated as specified
    └── JobError                    raised by job handlers; decides the message's fate
        ├── PermanentError          never retried: straight to the DLQ
        │   └── PayloadError        the message body does not decode into its schema
        └── RetryableError          redelivered with backoff until max_deliver, then DLQ
            └── JobTimeoutError     the handler ran past its time limit

Retryable and permanent are separate branches so that callers (the job runner,
``tenacity``) decide by type alone. Every error's message must be safe to show
to a person and to store in a DLQ header: never put a secret in one.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "EmbeddedRuntimeError",
    "JobError",
    "JobTimeoutError",
    "MigrationError",
    "NeuralBridgeError",
    "PayloadError",
    "PermanentError",
    "RetryableError",
    "TopologyError",
]


class NeuralBridgeError(Exception):
    """Base class of every error raised by NeuralBridge code."""


class ConfigError(NeuralBridgeError):
    """A setting is missing or malformed; the message names the variable."""


class EmbeddedRuntimeError(NeuralBridgeError):
    """An embedded server could not be started or stopped."""


class MigrationError(NeuralBridgeError):
    """A migration failed, or an applied migration's file changed."""


class TopologyError(NeuralBridgeError):
    """A stream, consumer or KV bucket cannot be declared as specified."""


class JobError(NeuralBridgeError):
    """Base of the errors a job handler raises to decide a message's fate."""

    #: Short machine-readable class written to ``X-Dlq-Error-Class``.
    error_class: str = "JobError"


class PermanentError(JobError):
    """The job can never succeed as sent (bad payload, failed validation)."""

    error_class = "PermanentError"


class PayloadError(PermanentError):
    """The message body does not decode into the expected schema."""

    error_class = "PayloadError"


class RetryableError(JobError):
    """A transient failure: redeliver later.

    Args:
        message: What went wrong (safe to log and store).
        delay: Seconds to wait before the next delivery; ``None`` follows the
            consumer's backoff schedule. Use it for ``Retry-After`` hints.
    """

    error_class = "RetryableError"

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class JobTimeoutError(RetryableError):
    """The handler ran longer than the job's time limit."""

    error_class = "JobTimeout"
