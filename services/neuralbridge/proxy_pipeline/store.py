"""The pipeline's PostgreSQL table: the persistent layer of the response cache.

All SQL of the service lives here. Values are the JSON of a cached answer
(already redacted); expiry is checked by the query, so an expired row is a miss
even before the cleanup job deletes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = [
    "count_live",
    "delete_expired",
    "delete_expired_sized",
    "get_entry",
    "keys_since",
    "live_keys",
    "put_entries",
]


async def get_entry(conn: Any, key: str) -> tuple[bytes, float] | None:
    """The JSON and remaining lifetime (seconds) of a live entry, or ``None``."""
    row = await conn.fetchrow(
        "UPDATE response_cache SET hits = hits + 1"
        " WHERE cache_key = $1 AND expires_at > now()"
        " RETURNING answer::text AS answer,"
        " extract(epoch FROM expires_at - now())::float8 AS remaining",
        key,
    )
    if row is None:
        return None
    return row["answer"].encode(), float(row["remaining"])


async def put_entries(conn: Any, entries: dict[str, bytes], ttl: float) -> None:
    """Store (or replace) entries (key → JSON) living ``ttl`` seconds, in one statement."""
    await conn.execute(
        "INSERT INTO response_cache (cache_key, answer, expires_at)"
        " SELECT k, a::jsonb, now() + make_interval(secs => $3)"
        " FROM unnest($1::text[], $2::text[]) AS e(k, a)"
        " ON CONFLICT (cache_key) DO UPDATE SET answer = EXCLUDED.answer,"
        " created_at = now(), expires_at = EXCLUDED.expires_at, hits = 0",
        list(entries),
        [answer.decode() for answer in entries.values()],
        ttl,
    )


async def delete_expired(conn: Any) -> int:
    """Delete expired entries; return how many."""
    status: str = await conn.execute("DELETE FROM response_cache WHERE expires_at <= now()")
    return int(status.rsplit(" ", 1)[-1])


async def delete_expired_sized(conn: Any) -> tuple[int, int]:
    """Delete expired entries; return how many and the bytes of their JSON text."""
    row = await conn.fetchrow(
        "WITH gone AS (DELETE FROM response_cache WHERE expires_at <= now()"
        " RETURNING octet_length(answer::text) AS size)"
        " SELECT count(*) AS entries, coalesce(sum(size), 0)::bigint AS bytes FROM gone"
    )
    return int(row["entries"]), int(row["bytes"])


async def count_live(conn: Any) -> tuple[datetime, int]:
    """PostgreSQL's clock now and how many entries are live."""
    row = await conn.fetchrow(
        "SELECT now() AS now, count(*) AS live FROM response_cache WHERE expires_at > now()"
    )
    return row["now"], int(row["live"])


async def live_keys(conn: Any, *, after: str, limit: int) -> list[str]:
    """Up to ``limit`` keys of live entries greater than ``after``, in key order."""
    rows = await conn.fetch(
        "SELECT cache_key FROM response_cache WHERE cache_key > $1 AND expires_at > now()"
        " ORDER BY cache_key LIMIT $2",
        after,
        limit,
    )
    return [row["cache_key"] for row in rows]


async def keys_since(conn: Any, since: datetime) -> tuple[list[str], datetime]:
    """Keys of entries written (or rewritten) after ``since``, and PostgreSQL's clock now."""
    row = await conn.fetchrow(
        "SELECT now() AS now, coalesce(array_agg(cache_key), '{}') AS keys"
        " FROM response_cache WHERE created_at > $1",
        since,
    )
    return list(row["keys"]), row["now"]
