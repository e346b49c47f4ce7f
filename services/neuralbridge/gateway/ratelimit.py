"""Token buckets per API key and per session (``GATEWAY_RATE_LIMIT_PER_MINUTE``).

Each bucket holds up to ``per_minute`` tokens and refills continuously at
``per_minute / 60`` per second; a request takes one token. An empty bucket is
:class:`~neuralbridge.gateway.errors.RateLimitedError` with ``Retry-After`` set to
the whole seconds until the next token. The least recently used buckets are
forgotten past ``max_buckets``, which only ever makes a limit more lenient.

Buckets live in each gateway process, and the replicas share what they hand
out (:mod:`~neuralbridge.gateway.ratelimit_sync`): every replica counts the
tokens it took per bucket (:meth:`RateLimiter.drain_usage`) and its peers
:meth:`~RateLimiter.debit` them, so a limit holds across replicas, not per
replica. A bucket may go below zero after a debit (down to ``-per_minute``):
that is the peers' overshoot, paid back before the next request is admitted.
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
        self._usage: dict[str, int] = {}

    def take(self, bucket: str, what: str) -> None:
        """Take one token from ``bucket``.

        Raises:
            RateLimitedError: the bucket is empty; ``what`` names the limit in the message.
        """
        if self._capacity <= 0:
            return
        tokens, now = self._refilled(bucket)
        if tokens < 1.0:
            self._store(bucket, tokens, now)
            retry_after = max(1, math.ceil((1.0 - tokens) / self._rate))
            raise RateLimitedError(
                f"rate limit of {self._capacity:.0f} requests per minute per {what} exceeded",
                retry_after=retry_after,
            )
        self._store(bucket, tokens - 1.0, now)
        self._usage[bucket] = self._usage.get(bucket, 0) + 1

    def debit(self, bucket: str, count: int) -> None:
        """Take ``count`` tokens that another replica handed out from ``bucket``."""
        if self._capacity <= 0 or count <= 0:
            return
        tokens, now = self._refilled(bucket)
        self._store(bucket, max(-self._capacity, tokens - count), now)

    def remaining(self, bucket: str) -> float:
        """Tokens ``bucket`` holds now (may be negative after a debit), without taking one."""
        if self._capacity <= 0:
            return float("inf")
        now = self._clock()
        tokens, stamp = self._buckets.get(bucket, (self._capacity, now))
        return min(self._capacity, tokens + (now - stamp) * self._rate)

    def drain_usage(self) -> dict[str, int]:
        """Tokens taken per bucket since the last call (what the peers must debit)."""
        usage, self._usage = self._usage, {}
        return usage

    def _refilled(self, bucket: str) -> tuple[float, float]:
        """The bucket's tokens now (taken out of the LRU order), and now."""
        now = self._clock()
        tokens, stamp = self._buckets.pop(bucket, (self._capacity, now))
        return min(self._capacity, tokens + (now - stamp) * self._rate), now

    def _store(self, bucket: str, tokens: float, now: float) -> None:
        self._buckets[bucket] = (tokens, now)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
