"""Which cache keys may have a PostgreSQL row, so a certain miss skips the lookup.

A question that misses the memory layer used to cost a PostgreSQL round trip
before the LLM call, although in the steady state of one replica that lookup
almost never finds anything the memory layer did not have. :class:`KnownKeys`
keeps a Bloom filter (:class:`KeyFilter`, 1% false positives, about 1.2 bytes
per key) over the keys of the live rows; a key the filter has never seen has no
row, and :meth:`ResponseCache.get_persisted` answers "miss" without asking.

How it stays complete:

* **Built** from the table (every live key, read in pages by primary key),
  when the pipeline starts and again every ``rebuild_every`` seconds, which also
  forgets expired keys (a Bloom filter cannot delete); sooner when more keys
  were added than it was sized for.
* **This replica's** new rows are added before they are written.
* **Other replicas'** rows are read every refresh (``CACHE_KEY_FILTER_REFRESH_SECONDS``,
  default 1 s): the keys whose ``created_at`` is past the last refresh, with a
  few seconds of overlap for statements that committed late. Until then a
  question another replica just cached is a miss here: one upstream call
  more, never a wrong answer.
* **Not trusted** before the first build, or when refreshing has failed for
  ``stale_after`` seconds: then every memory miss asks PostgreSQL, as without
  the filter.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import asyncpg
import structlog

from neuralbridge.proxy_pipeline import store

__all__ = ["KeyFilter", "KnownKeys"]

log = structlog.get_logger()

#: Seconds re-read before the last refresh (a row's ``created_at`` is its
#: transaction's start, which may precede the refresh that should have seen it).
OVERLAP = timedelta(seconds=2)
#: Keys read per page when building.
PAGE = 10_000


class KeyFilter:
    """A Bloom filter over strings.

    Args:
        capacity: Keys it is sized for; past that its false-positive rate grows.
        error_rate: False-positive rate at ``capacity`` keys.
    """

    def __init__(self, capacity: int, error_rate: float = 0.01) -> None:
        self.capacity = max(1, capacity)
        self._bits = max(64, math.ceil(-self.capacity * math.log(error_rate) / math.log(2) ** 2))
        self._hashes = max(1, round(self._bits / self.capacity * math.log(2)))
        self._array = bytearray((self._bits + 7) // 8)
        self.count = 0

    def add(self, key: str) -> None:
        """Remember ``key``."""
        array = self._array
        for position in self._positions(key):
            array[position >> 3] |= 1 << (position & 7)
        self.count += 1

    def __contains__(self, key: object) -> bool:
        """``False``: ``key`` was never added; ``True``: it probably was."""
        if not isinstance(key, str):
            return False
        array = self._array
        return all(array[p >> 3] & (1 << (p & 7)) for p in self._positions(key))

    @property
    def overfull(self) -> bool:
        """More keys were added than it was sized for."""
        return self.count > self.capacity

    def _positions(self, key: str) -> Iterable[int]:
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
        first = int.from_bytes(digest[:8], "little")
        step = int.from_bytes(digest[8:], "little") | 1
        bits = self._bits
        return ((first + i * step) % bits for i in range(self._hashes))


class KnownKeys:
    """The keys of the live cache rows, as a Bloom filter (see the module docstring).

    Args:
        pool: The pipeline's PostgreSQL pool.
        min_capacity: Keys the filter is sized for at least (``CACHE_MAX_SIZE``).
        rebuild_every: Seconds between full builds.
        stale_after: Seconds without a successful refresh after which the filter
            is not trusted.
        clock: Monotonic seconds (tests move it by hand).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        min_capacity: int,
        rebuild_every: float = 600.0,
        stale_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._min_capacity = min_capacity
        self._rebuild_every = rebuild_every
        self._stale_after = stale_after
        self._clock = clock
        self._filter: KeyFilter | None = None
        self._since: datetime | None = None  # PostgreSQL's clock at the last refresh
        self._built_at = 0.0
        self._refreshed_at = 0.0
        self._adding: list[str] | None = None  # keys added while a build runs

    @property
    def trusted(self) -> bool:
        """Whether a ``False`` from :meth:`may_have` means "no row"."""
        return self._filter is not None and self._clock() - self._refreshed_at <= self._stale_after

    def may_have(self, key: str) -> bool:
        """``False`` only when ``key`` certainly has no row."""
        if not self.trusted:
            return True
        assert self._filter is not None
        return key in self._filter

    def add(self, keys: Iterable[str]) -> None:
        """Keys about to get a row."""
        keys = list(keys)
        if self._filter is not None:
            for key in keys:
                self._filter.add(key)
        if self._adding is not None:
            self._adding.extend(keys)

    async def refresh(self) -> None:
        """Add the keys of rows written since the last refresh; build anew when due.

        Raises:
            asyncpg.PostgresError | OSError: PostgreSQL could not be read (the
                filter stays as it was, and stops being trusted after ``stale_after``).
        """
        current = self._filter
        due = self._clock() - self._built_at >= self._rebuild_every
        if current is None or self._since is None or due or current.overfull:
            await self._build()
            return
        async with self._pool.acquire() as conn:
            keys, now = await store.keys_since(conn, self._since - OVERLAP)
        for key in keys:
            current.add(key)
        self._since, self._refreshed_at = now, self._clock()

    async def run(self, every: float) -> None:
        """Refresh every ``every`` seconds, the first time at once, until cancelled."""
        failing = False
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # noqa: BLE001 - retried next time; untrusted once stale
                if not failing:
                    log.warning("cache_key_filter_refresh_failed", error=str(exc))
                failing = True
            else:
                if failing:
                    log.info("cache_key_filter_refreshed")
                failing = False
            await asyncio.sleep(every)

    async def _build(self) -> None:
        self._adding = []
        try:
            async with self._pool.acquire() as conn:
                now, live = await store.count_live(conn)
                built = KeyFilter(max(2 * live, self._min_capacity))
                after = ""
                while True:
                    page = await store.live_keys(conn, after=after, limit=PAGE)
                    for key in page:
                        built.add(key)
                    if len(page) < PAGE:
                        break
                    after = page[-1]
                    await asyncio.sleep(0)  # a big table: let requests run between pages
            for key in self._adding:
                built.add(key)
        finally:
            self._adding = None
        self._filter, self._since = built, now
        self._built_at = self._refreshed_at = self._clock()
