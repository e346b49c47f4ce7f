"""Migrations: recorded, idempotent, safe when replicas start at once; idempotency records."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from neuralbridge.core.db import Migration, claim_once, create_pool, load_migrations, migrate
from neuralbridge.core.embedded import EmbeddedPostgres
from neuralbridge.core.errors import MigrationError

MIGRATIONS = [
    Migration(1, "items", "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);"),
    Migration(2, "items_index", "CREATE INDEX items_name ON items (name);"),
]


async def test_migrate_twice_applies_once_and_records_versions(
    pool: asyncpg.Pool, schema: str
) -> None:
    """The second run applies nothing; versions and checksums are recorded."""
    assert await migrate(pool, schema, MIGRATIONS) == [1, 2]
    assert await migrate(pool, schema, MIGRATIONS) == []
    rows = await pool.fetch(f'SELECT version, name FROM "{schema}".schema_migrations ORDER BY 1')
    assert [(r["version"], r["name"]) for r in rows] == [(1, "items"), (2, "items_index")]
    await pool.execute(f"INSERT INTO \"{schema}\".items (name) VALUES ('x')")


async def test_migrate_concurrently_from_many_replicas_is_safe(
    postgres_server: EmbeddedPostgres, schema: str
) -> None:
    """Six replicas migrating at once: no error, each migration applied exactly once."""
    pools = [await create_pool(postgres_server.url, max_size=2) for _ in range(6)]
    try:
        results = await asyncio.gather(*(migrate(p, schema, MIGRATIONS) for p in pools))
        count = await pools[0].fetchval(f'SELECT count(*) FROM "{schema}".schema_migrations')
    finally:
        await asyncio.gather(*(p.close() for p in pools))
    assert sorted(v for r in results for v in r) == [1, 2]
    assert count == 2


async def test_migrate_edited_applied_migration_is_an_error(
    pool: asyncpg.Pool, schema: str
) -> None:
    """Changing an applied migration's SQL is refused, naming the migration."""
    await migrate(pool, schema, MIGRATIONS[:1])
    edited = [Migration(1, "items", "CREATE TABLE items (id bigserial PRIMARY KEY);")]
    with pytest.raises(MigrationError, match=r"0001_items was edited"):
        await migrate(pool, schema, edited)


async def test_migrate_failing_migration_leaves_nothing_behind(
    pool: asyncpg.Pool, schema: str
) -> None:
    """A failing migration is rolled back and not recorded."""
    broken = [*MIGRATIONS, Migration(3, "broken", "ALTER TABLE nowhere ADD COLUMN x int;")]
    with pytest.raises(MigrationError, match=r"0003_broken failed"):
        await migrate(pool, schema, broken)
    versions = await pool.fetch(f'SELECT version FROM "{schema}".schema_migrations')
    assert sorted(r["version"] for r in versions) == [1, 2]


def test_load_migrations_reads_files_in_version_order(tmp_path: Path) -> None:
    """Files load sorted by version; a misnamed file is refused."""
    (tmp_path / "0002_second.sql").write_text("SELECT 2;")
    (tmp_path / "0001_first.sql").write_text("SELECT 1;")
    assert [m.name for m in load_migrations(tmp_path)] == ["first", "second"]
    (tmp_path / "third.sql").write_text("SELECT 3;")
    with pytest.raises(MigrationError, match=r"NNNN_snake_name\.sql"):
        load_migrations(tmp_path)


async def test_claim_once_first_claim_wins(pool: asyncpg.Pool, schema: str) -> None:
    """An idempotency key is claimed once; later claims report it was done."""
    await migrate(pool, schema, [])
    async with pool.acquire() as conn:
        assert await claim_once(conn, schema, "job-1") is True
        assert await claim_once(conn, schema, "job-1") is False
        assert await claim_once(conn, schema, "job-2") is True


async def test_a_connection_released_inside_a_transaction_comes_back_clean(
    database_url: str,
) -> None:
    """The pool's light reset still rolls back what a cancelled caller left open."""
    pool = await create_pool(database_url, max_size=1)
    try:
        await pool.execute("CREATE TABLE leftovers (n int)")
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute("INSERT INTO leftovers VALUES (1)")
        async with pool.acquire() as conn:  # the same connection (max_size=1)
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM leftovers") == 0
            await conn.execute("INSERT INTO leftovers VALUES (2)")  # autocommit again
        assert await pool.fetchval("SELECT count(*) FROM leftovers") == 1
    finally:
        await pool.close()
