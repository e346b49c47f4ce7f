"""The in-call retry policy: which failures, how often, how long to wait.

Only :class:`~neuralbridge.llm.errors.LLMUnavailable` is retried (by type, the
house rule). Waits reuse the embedders' backoff: the server's hint when the
error carries one (``Retry-After``, ``retry-after-ms``, OpenAI's
``x-ratelimit-reset-*``, parsed by :func:`neuralbridge.embedders.retry.retry_hint`),
otherwise exponential backoff with jitter from ``retry_delay_ms``.
"""

from __future__ import annotations

from collections.abc import Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from neuralbridge.embedders.retry import MAX_WAIT, BackoffWait
from neuralbridge.llm.errors import LLMUnavailable
from neuralbridge.llm.profile import LLMSettings

__all__ = ["HintedWait", "retrying"]


class HintedWait:
    """A tenacity ``wait``: an :class:`LLMUnavailable`'s ``delay`` if set, else backoff.

    ``BackoffWait`` only recognises the embedders' error type, so this adapter
    reads the hint from ours and delegates the no-hint case.

    Args:
        base: The first backoff, in seconds (``retry_delay_ms / 1000``).
    """

    def __init__(self, base: float) -> None:
        self._backoff = BackoffWait(base)

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, LLMUnavailable) and error.delay is not None:
            return min(error.delay, MAX_WAIT)
        return self._backoff(state)


def retrying(
    settings: LLMSettings, before_sleep: Callable[[RetryCallState], None]
) -> AsyncRetrying:
    """Return a fresh tenacity controller for one call (it keeps per-call state)."""
    return AsyncRetrying(
        retry=retry_if_exception_type(LLMUnavailable),
        stop=stop_after_attempt(settings.max_retries + 1),
        wait=HintedWait(settings.retry_delay_ms / 1000.0),
        before_sleep=before_sleep,
        reraise=True,
    )
