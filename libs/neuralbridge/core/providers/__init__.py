"""What every provider client (embedders, chat LLMs) shares: HTTP, retries, hints, keys.

* :mod:`~neuralbridge.core.providers.errors`: :class:`ProviderError` and
  :class:`ProviderUnavailable`, the permanent and retryable bases of each
  client package's own public errors.
* :mod:`~neuralbridge.core.providers.hints`: ``Retry-After`` (seconds or HTTP
  date), ``retry-after-ms`` and ``x-ratelimit-reset-*`` parsed into seconds.
* :mod:`~neuralbridge.core.providers.backoff`: a tenacity wait honouring any
  :class:`~neuralbridge.core.errors.RetryableError`'s ``delay``, exponential with
  jitter otherwise, capped; and the shared retry controller.
* :mod:`~neuralbridge.core.providers.credentials`: API keys read by variable
  name, never echoed.
* :mod:`~neuralbridge.core.providers.messages`: the provider's own error text,
  with secrets scrubbed.
* :mod:`~neuralbridge.core.providers.http`: :class:`ProviderHTTP`, the base of
  the HTTP clients (send, classify, retry, redact).
* :mod:`~neuralbridge.core.providers.settings`: the field types of the clients'
  settings and the :class:`CallSettings` protocol the HTTP layer reads.
"""

from neuralbridge.core.providers.backoff import MAX_WAIT, BackoffWait, retrying
from neuralbridge.core.providers.credentials import resolve_credential
from neuralbridge.core.providers.errors import ProviderError, ProviderUnavailable
from neuralbridge.core.providers.hints import parse_duration, parse_retry_after, retry_hint
from neuralbridge.core.providers.http import ProviderHTTP, checked_base_url, status_error_type
from neuralbridge.core.providers.messages import provider_error_message, provider_text, redact
from neuralbridge.core.providers.settings import CallSettings, Milliseconds, Retries, Seconds

__all__ = [
    "MAX_WAIT",
    "BackoffWait",
    "CallSettings",
    "Milliseconds",
    "ProviderError",
    "ProviderHTTP",
    "ProviderUnavailable",
    "Retries",
    "Seconds",
    "checked_base_url",
    "parse_duration",
    "parse_retry_after",
    "provider_error_message",
    "provider_text",
    "redact",
    "resolve_credential",
    "retry_hint",
    "retrying",
    "status_error_type",
]
