"""Token buckets per API key and per session (``GATEWAY_RATE_LIMIT_PER_MINUTE``).

Each bucket holds up to ``per_minute`` tokens and refills continuously at
``per_minute / 60`` per second; a request takes one token. An empty bucket is
:class:`~neuralbridge.gateway.errors.RateLimitedError` with ``Retry-After`` set to
the whole seconds until the next token. Buckets live in this process (one
gateway replica's view); the least recently used ones are forgotten past
``max_buckets``, which only ever makes a limit more lenient.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from neuralbridge.gateway.errors import RateLimitedError

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token buckets keyed by name (``key:<id>``, ``session:<id>``).

    Args:
        per_minute: Bucket size and refill per minute; 0 disables limiting.
        max_buckets: How many buckets to remember.
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        per_minute: int,
        *,
        max_buckets: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._max = max_buckets
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, bucket: str, what: str) -> None:
        """Take one token from ``bucket``.

        Raises:
            RateLimitedError: the bucket is empty; ``what`` names the limit in the message.
        """
        if self._capacity <= 0:
            return
        now = self._clock()
        tokens, stamp = self._buckets.pop(bucket, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - stamp) * self._rate)
        if tokens < 1.0:
            self._buckets[bucket] = (tokens, now)
            retry_after = max(1, math.ceil((1.0 - tokens) / self._rate))
            raise RateLimitedError(
                f"rate limit of {self._capacity:.0f} requests per minute per {what} exceeded",
                retry_after=retry_after,
            )
        self._buckets[bucket] = (tokens - 1.0, now)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
