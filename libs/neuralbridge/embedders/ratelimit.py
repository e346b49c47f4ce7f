"""In-process request pacing: one token bucket per provider name and rate.

Every client of one provider in a process shares a bucket, so concurrent jobs
together stay under ``MAX_EMBEDDER_REQUESTS_PER_SECOND``. Reservations are taken
synchronously under a thread lock (no awaits in between), which keeps the
bucket correct across tasks, event loops and threads; the caller then sleeps
until its slot. The bucket holds one token: requests are spaced evenly rather
than sent in bursts.
"""

from __future__ import annotations

import asyncio
import threading
import time

__all__ = ["TokenBucket", "bucket_for"]


class TokenBucket:
    """A token bucket that hands out future slots instead of refusing.

    Args:
        rate: Tokens added per second.
        capacity: The most tokens the bucket holds (the largest burst).
    """

    def __init__(self, rate: float, capacity: float = 1.0) -> None:
        self.rate = rate
        self._capacity = capacity
        self._tokens = capacity
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token and return how many seconds to wait before using it."""
        with self._lock:
            now = time.monotonic()
            elapsed = now - self._updated
            self._tokens = min(self._capacity, self._tokens + elapsed * self.rate)
            self._updated = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self) -> None:
        """Wait until this caller may send one request."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)


_BUCKETS: dict[tuple[str, float], TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def bucket_for(provider: str, rate: float) -> TokenBucket:
    """Return the process-wide bucket for ``provider`` at ``rate`` requests per second."""
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get((provider, rate))
        if bucket is None:
            bucket = _BUCKETS[(provider, rate)] = TokenBucket(rate)
        return bucket
