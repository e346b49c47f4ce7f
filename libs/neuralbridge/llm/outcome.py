"""One call's telemetry: the metrics in :mod:`neuralbridge.llm.metrics` and one log line.

Every ``complete()``/``stream()`` call makes a :class:`CallRecord` and ends it
with :meth:`~CallRecord.succeeded` or :meth:`~CallRecord.failed`, which count
the request, observe its duration and tokens and write the canonical
``llm_request`` line. Failed attempts (retried or not) go through
:func:`count_attempt` into ``llm_errors_total``.
"""

from __future__ import annotations

import time

import structlog

from neuralbridge.llm import metrics
from neuralbridge.llm.chat import ChatResult
from neuralbridge.llm.errors import (
    LLMConfigError,
    LLMError,
    LLMResponseError,
    LLMStreamBroken,
    LLMUnavailable,
)

__all__ = ["CallRecord", "LLMFailure", "count_attempt", "error_type"]

log = structlog.get_logger()

LLMFailure = LLMError | LLMUnavailable | LLMStreamBroken


def error_type(exc: LLMFailure) -> str:
    """The ``error_type`` label of a failure."""
    if isinstance(exc, LLMUnavailable):
        return exc.error_type
    if isinstance(exc, LLMStreamBroken):
        return "stream_broken"
    if isinstance(exc, LLMResponseError):
        return "bad_response"
    if isinstance(exc, LLMConfigError):
        return "config"
    return "client_error"


def count_attempt(provider: str, exc: LLMFailure) -> None:
    """Count one failed attempt in ``llm_errors_total``."""
    metrics.ERRORS.labels(provider, error_type(exc)).inc()


class CallRecord:
    """Telemetry of one call, started when the record is made.

    Args:
        provider: The provider label.
        model: The model asked for (its label is ``other`` unless configured).
        stream: Whether the call streams (logged).
    """

    def __init__(self, provider: str, model: str, *, stream: bool) -> None:
        self._provider = provider
        self._model = model
        self._stream = stream
        self._started = time.perf_counter()
        self._first_token: float | None = None

    def first_token(self) -> None:
        """Observe the time to first token (once; later calls do nothing)."""
        if self._first_token is None:
            self._first_token = time.perf_counter() - self._started
            metrics.TIME_TO_FIRST_TOKEN.labels(self._provider).observe(self._first_token)

    def succeeded(self, result: ChatResult) -> None:
        """Record a successful call and its token counts."""
        duration = self._finish("success")
        for kind, count in (
            ("prompt", result.prompt_tokens),
            ("completion", result.completion_tokens),
        ):
            if count:
                metrics.TOKENS.labels(self._provider, kind).inc(count)
        log.info(
            "llm_request",
            provider=self._provider,
            model=self._model,
            reported_model=result.model,
            stream=self._stream,
            status="success",
            duration_s=round(duration, 4),
            # "token" in a key makes the log scrubber mask it: these names avoid the word
            ttft_s=None if self._first_token is None else round(self._first_token, 4),
            finish_reason=result.finish_reason,
            usage_prompt=result.prompt_tokens,
            usage_completion=result.completion_tokens,
        )

    def failed(self, exc: LLMFailure) -> None:
        """Record a failed call (the caller raises ``exc``)."""
        duration = self._finish("error")
        log.warning(
            "llm_request",
            provider=self._provider,
            model=self._model,
            stream=self._stream,
            status="error",
            duration_s=round(duration, 4),
            error_type=error_type(exc),
            error=str(exc),
        )

    def _finish(self, status: str) -> float:
        duration = time.perf_counter() - self._started
        metrics.REQUESTS.labels(self._provider, metrics.model_label(self._model), status).inc()
        metrics.REQUEST_DURATION.labels(self._provider).observe(duration)
        return duration
