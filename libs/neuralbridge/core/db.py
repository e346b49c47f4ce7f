"""PostgreSQL: the asyncpg pool, per-service migrations, and idempotency records.

Each service owns one PostgreSQL schema (``gateway``, ``dataset_transform``…)
and ships its migrations as ``NNNN_name.sql`` files. :func:`migrate` applies
the pending ones in order, each in its own transaction, recording version,
name and checksum in ``<schema>.schema_migrations``. A session-level advisory
lock per schema makes it safe for two replicas to start at once: the second
waits, then finds nothing to do. Editing a migration after it was applied is
an error, never silently ignored.

:func:`claim_once` is the idempotency record handlers use so that a job
delivered twice has its effect once: insert the job's key in the same
transaction as the effect; a second delivery finds the key and skips.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import structlog

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

from neuralbridge.core.errors import MigrationError

__all__ = ["Migration", "claim_once", "create_pool", "load_migrations", "migrate"]

log = structlog.get_logger()

if TYPE_CHECKING:
    # A connection, or a pool's proxy for one (subscriptable only in the stubs).
    Connection: TypeAlias = asyncpg.Connection[Any] | PoolConnectionProxy[Any]

_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One versioned SQL file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """sha256 of the SQL text."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, schema: str | None = None
) -> asyncpg.Pool:
    """Open a pool with a statement timeout and an application name.

    Args:
        dsn: The PostgreSQL URL.
        min_size: Connections kept open.
        max_size: Connections at most.
        schema: Put this schema first on ``search_path`` (a service's own tables).
    """
    settings = {"application_name": "neuralbridge"}
    if schema is not None:
        if not _SCHEMA.match(schema):
            raise MigrationError(f"invalid schema name {schema!r}")
        settings["search_path"] = f'"{schema}", public'
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, command_timeout=60, server_settings=settings,
        reset=_reset,
    )  # fmt: skip
    assert pool is not None
    return pool


async def _reset(conn: asyncpg.Connection) -> None:
    """What a connection needs when it goes back to the pool: no open transaction.

    asyncpg's default reset runs ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` on every release, a round trip each time. No code here leaves session
    state on a pooled connection (no ``SET``, ``LISTEN`` or cursors; the migration
    lock is released in a ``finally``), so only a transaction left open (a cancelled
    caller) needs the full reset.
    """
    if conn.is_in_transaction():
        await conn.reset()


def load_migrations(directory: Path) -> list[Migration]:
    """Read ``NNNN_name.sql`` files in version order.

    Raises:
        MigrationError: a file is misnamed or two share a version.
    """
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_snake_name.sql")
        version = int(match.group("version"))
        if version in found:
            raise MigrationError(f"{path}: version {version} is used twice")
        found[version] = Migration(version, match.group("name"), path.read_text())
    return [found[v] for v in sorted(found)]


async def migrate(pool: asyncpg.Pool, schema: str, migrations: list[Migration]) -> list[int]:
    """Apply pending migrations to ``schema``; return the versions applied now.

    Raises:
        MigrationError: an applied migration's file changed, or a migration failed.
    """
    if not _SCHEMA.match(schema):
        raise MigrationError(f"invalid schema name {schema!r}")
    applied_now: list[int] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"nb-migrate:{schema}")
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}".processed_jobs ('
                " key text PRIMARY KEY, processed_at timestamptz NOT NULL DEFAULT now())"
            )
            rows = await conn.fetch(f'SELECT version, checksum FROM "{schema}".schema_migrations')
            done = {r["version"]: r["checksum"] for r in rows}
            for migration in migrations:
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"{schema} migration {migration.version:04d}_{migration.name} was "
                            "edited after it was applied; add a new migration instead"
                        )
                    continue
                await _apply(conn, schema, migration)
                applied_now.append(migration.version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"nb-migrate:{schema}")
    return applied_now


async def _apply(conn: Connection, schema: str, migration: Migration) -> None:
    try:
        async with conn.transaction():
            await conn.execute(f'SET LOCAL search_path TO "{schema}"')
            await conn.execute(migration.sql)
            await conn.execute(
                f'INSERT INTO "{schema}".schema_migrations (version, name, checksum)'
                " VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
    except asyncpg.PostgresError as exc:
        raise MigrationError(
            f"{schema} migration {migration.version:04d}_{migration.name} failed: {exc}"
        ) from None
    log.info("migration_applied", schema=schema, version=migration.version, name=migration.name)


async def claim_once(conn: Connection, schema: str, key: str) -> bool:
    """Record ``key`` as processed; ``False`` when it already was.

    Call inside the transaction that performs the job's effect; every schema
    that went through :func:`migrate` has the ``processed_jobs`` table.
    """
    status = await conn.execute(
        f'INSERT INTO "{schema}".processed_jobs (key) VALUES ($1) ON CONFLICT DO NOTHING', key
    )
    return bool(status.endswith(" 1"))
