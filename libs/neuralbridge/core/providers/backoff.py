"""When to try again inside one call: the server's hint, else capped exponential backoff.

:class:`BackoffWait` honours :attr:`RetryableError.delay` on ANY
:class:`~neuralbridge.core.errors.RetryableError` (so every client's
``*Unavailable`` error carries its ``Retry-After`` through), and otherwise waits
exponentially from a base with jitter. No single wait exceeds :data:`MAX_WAIT`
seconds. :func:`retrying` builds the tenacity controller the clients share:
retry by type alone, a fixed number of attempts, re-raise the last error.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from neuralbridge.core.errors import RetryableError

__all__ = ["MAX_WAIT", "BackoffWait", "retrying"]

#: The longest single in-call wait, in seconds; a longer hint is left to redelivery.
MAX_WAIT = 60.0


class BackoffWait:
    """A tenacity ``wait``: the error's ``delay`` if set, else exponential backoff with jitter.

    The n-th wait without a hint lies in ``[c/2, c]`` where
    ``c = min(cap, base * 2 ** (n - 1))``.

    Args:
        base: The first backoff, in seconds (``retry_delay_ms / 1000``).
        cap: The longest single wait.
    """

    def __init__(self, base: float, cap: float = MAX_WAIT) -> None:
        self._base = base
        self._cap = cap

    def __call__(self, state: RetryCallState) -> float:
        """Return the seconds to sleep before the next attempt."""
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableError) and error.delay is not None:
            return min(error.delay, self._cap)
        ceiling = min(self._cap, self._base * 2.0 ** (state.attempt_number - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def retrying(
    retry_on: type[RetryableError],
    *,
    max_retries: int,
    retry_delay_ms: int,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> AsyncRetrying:
    """Return a fresh tenacity controller for one call (it keeps per-call state).

    Args:
        retry_on: The error type to retry; anything else propagates at once.
        max_retries: Retries after the first attempt.
        retry_delay_ms: The backoff base when the error carries no hint.
        before_sleep: Called before each wait (for the retry log line).
    """
    return AsyncRetrying(
        retry=retry_if_exception_type(retry_on),
        stop=stop_after_attempt(max_retries + 1),
        wait=BackoffWait(retry_delay_ms / 1000.0),
        before_sleep=before_sleep,
        reraise=True,
    )
