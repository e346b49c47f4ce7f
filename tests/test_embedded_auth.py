"""The embedded servers of ``nb up`` admit only the generated credentials, kept 0600."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    StackSecrets,
    load_or_create_secrets,
    read_secrets,
    secrets_dir,
)
from neuralbridge.core.errors import ConfigError, EmbeddedRuntimeError
from neuralbridge.core.settings import NatsAuth

REFUSED = (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
SECRET_FILES = ("nats.json", "postgres-password", "pii-hash-key")


@pytest.fixture
def stack_secrets(tmp_path: Path) -> StackSecrets:
    return load_or_create_secrets(tmp_path)


@pytest.fixture
def secured_nats(tmp_path: Path, stack_secrets: StackSecrets) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(
        tmp_path / "nats", user=stack_secrets.nats_user, password=stack_secrets.nats_password
    )
    server.start()
    yield server
    server.stop()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_secured_nats_anonymous_client_refused(secured_nats: EmbeddedNats) -> None:
    """A client without credentials is refused at once with one line naming the variables."""
    with pytest.raises(ConfigError) as err:
        await Bus.connect(secured_nats.url, name="anonymous", connect_within=10)
    assert "NATS refused the credentials" in str(err.value)
    assert "NATS_USER/NATS_PASSWORD" in str(err.value)


async def test_secured_nats_generated_credentials_accepted(
    secured_nats: EmbeddedNats, stack_secrets: StackSecrets
) -> None:
    """The generated user and password connect, and JetStream answers."""
    auth = NatsAuth(user=stack_secrets.nats_user, password=stack_secrets.nats_password)
    bus = await Bus.connect(secured_nats.url, name="owner", auth=auth)
    try:
        await bus.ping()
        assert (await bus.js.account_info()).streams == 0
    finally:
        await bus.close()


def test_secured_nats_password_not_on_command_line(secured_nats: EmbeddedNats) -> None:
    """The server's command line holds no password; its config file is 0600."""
    assert secured_nats._proc is not None
    cmdline = Path(f"/proc/{secured_nats._proc.pid}/cmdline").read_bytes()
    assert secured_nats._password is not None
    assert secured_nats._password.reveal().encode() not in cmdline
    assert _mode(secured_nats.data_dir / "auth.conf") == 0o600


def test_secrets_generated_files_0600_and_reused(tmp_path: Path) -> None:
    """Secrets are made once in 0600 files of a 0700 dir; the next start reads the same."""
    first = load_or_create_secrets(tmp_path)
    second = load_or_create_secrets(tmp_path)
    folder = secrets_dir(tmp_path)
    assert _mode(folder) == 0o700
    assert all(_mode(folder / name) == 0o600 for name in SECRET_FILES)
    assert first == second
    assert len(bytes.fromhex(first.pii_hash_key.reveal())) == 32
    assert len(first.nats_password.reveal()) >= 32
    assert first.nats_password != first.postgres_password


def test_secrets_readable_by_others_tightened(tmp_path: Path) -> None:
    """A secret file someone made world-readable is put back to 0600 when read."""
    load_or_create_secrets(tmp_path)
    leaked = secrets_dir(tmp_path) / "postgres-password"
    leaked.chmod(0o644)
    load_or_create_secrets(tmp_path)
    assert _mode(leaked) == 0o600


def test_secrets_malformed_nats_file_names_it(tmp_path: Path) -> None:
    """A nats.json without a password is an error naming the file, with no secret in it."""
    folder = secrets_dir(tmp_path)
    folder.mkdir()
    (folder / "nats.json").write_text(json.dumps({"user": "x"}))
    with pytest.raises(EmbeddedRuntimeError, match=r"nats\.json"):
        load_or_create_secrets(tmp_path)


def test_read_secrets_no_stack_none(tmp_path: Path) -> None:
    """Reading secrets where nb up never ran creates nothing and returns None."""
    assert read_secrets(tmp_path) is None
    assert not secrets_dir(tmp_path).exists()


async def test_secured_postgres_without_password_refused(
    tmp_path: Path, stack_secrets: StackSecrets
) -> None:
    """A fresh PGDATA with a password refuses user postgres without it, accepts it with it."""
    server = EmbeddedPostgres(tmp_path / "pg", password=stack_secrets.postgres_password)
    server.start()
    try:
        anonymous = f"postgresql://postgres@127.0.0.1:{server.port}/neuralbridge"
        with pytest.raises(REFUSED):
            await asyncpg.connect(anonymous)
        conn = await asyncpg.connect(server.url)
        assert await conn.fetchval("SELECT 1") == 1
        await conn.close()
    finally:
        server.stop()


async def test_trusting_pgdata_started_with_password_refuses_anonymous(
    tmp_path: Path, stack_secrets: StackSecrets
) -> None:
    """A PGDATA made without a password gets one on the next start and stops trusting."""
    open_server = EmbeddedPostgres(tmp_path / "pg")
    open_server.start()
    open_server.stop()
    server = EmbeddedPostgres(
        tmp_path / "pg", port=open_server.port, password=stack_secrets.postgres_password
    )
    server.start()
    try:
        with pytest.raises(REFUSED):
            await asyncpg.connect(open_server.url)
        conn = await asyncpg.connect(server.url)
        assert await conn.fetchval("SELECT current_database()") == "neuralbridge"
        await conn.close()
    finally:
        server.stop()
    rules = [line.split() for line in (tmp_path / "pg" / "pg_hba.conf").read_text().splitlines()]
    methods = {rule[-1] for rule in rules if rule and not rule[0].startswith("#")}
    assert methods == {"scram-sha-256"}
