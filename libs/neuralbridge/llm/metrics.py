"""Prometheus metrics of the chat-completion clients.

One ``llm_requests_total`` and one duration sample per call of ``complete()`` or
``stream()`` (retries included in the duration); ``llm_errors_total`` counts every
failed attempt, retried or not, so a flapping provider shows even when calls
succeed. Labels are bounded: provider, the model when it is one the operator
configured (:func:`configure_model_labels`; any other name a caller asked for
is counted as ``other``), ``success``/``error``, token kind and a short error type.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "ERRORS",
    "OTHER_MODEL",
    "REQUESTS",
    "REQUEST_DURATION",
    "TIME_TO_FIRST_TOKEN",
    "TOKENS",
    "configure_model_labels",
    "model_label",
]

#: The ``model`` label of a model nobody configured (a caller's per-request override).
OTHER_MODEL = "other"
_configured_models: set[str] = set()


def configure_model_labels(*models: str) -> None:
    """Let these configured model names be ``model`` label values (the process's own)."""
    _configured_models.update(m for m in models if m)


def model_label(model: str) -> str:
    """``model`` if configured, else :data:`OTHER_MODEL`: callers cannot add series."""
    return model if model in _configured_models else OTHER_MODEL


REQUESTS = Counter(
    "llm_requests_total",
    "Chat-completion calls (complete or stream), by provider, model and status (success, error).",
    ["provider", "model", "status"],
)
REQUEST_DURATION = Histogram(
    "llm_request_duration_seconds",
    "Duration of one chat-completion call, retries and the whole stream included.",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300),
)
TIME_TO_FIRST_TOKEN = Histogram(
    "llm_time_to_first_token_seconds",
    "Seconds from starting a stream to its first text delta, retries included.",
    ["provider"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
TOKENS = Counter(
    "llm_tokens_total",
    "Tokens reported by providers, by kind (prompt, completion).",
    ["provider", "kind"],
)
ERRORS = Counter(
    "llm_errors_total",
    "Failed chat-completion attempts, by error type (rate_limited, server_error, timeout, "
    "connection, client_error, bad_response, stream_broken).",
    ["provider", "error_type"],
)
