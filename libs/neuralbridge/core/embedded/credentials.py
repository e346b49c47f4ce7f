"""The secrets ``nb up`` generates once and keeps in its data dir (mode 0600).

``<data dir>/secrets/`` (mode 0700) holds ``nats.json`` (the embedded NATS
server's user and password), ``postgres-password`` (user ``postgres`` of the
embedded PostgreSQL) and ``pii-hash-key`` (32 random bytes, hex: the services'
``PII_HASH_KEY``). Each is made with :mod:`secrets` on the first ``nb up`` and
read back on every later one, and by the other ``nb`` commands that talk to a
running stack. A file readable by others is tightened to 0600 when read.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

import msgspec
import structlog

from neuralbridge.core.errors import EmbeddedRuntimeError
from neuralbridge.core.settings import Secret

__all__ = ["StackSecrets", "load_or_create_secrets", "read_secrets", "secrets_dir"]

log = structlog.get_logger()

NATS_USER = "neuralbridge"
_NATS_FILE = "nats.json"
_POSTGRES_FILE = "postgres-password"
_PII_FILE = "pii-hash-key"


class StackSecrets(msgspec.Struct, frozen=True, kw_only=True):
    """The embedded stack's generated credentials."""

    nats_user: str
    nats_password: Secret
    postgres_password: Secret
    pii_hash_key: Secret


def secrets_dir(data_dir: Path) -> Path:
    """Where the stack's secrets live: ``<data dir>/secrets``."""
    return data_dir / "secrets"


def load_or_create_secrets(data_dir: Path) -> StackSecrets:
    """Read the stack's secrets, generating each one that does not exist yet.

    Raises:
        EmbeddedRuntimeError: a secret file exists but is empty or malformed.
    """
    folder = secrets_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    nats_text = _read_or_create(
        folder / _NATS_FILE,
        lambda: json.dumps({"user": NATS_USER, "password": secrets.token_urlsafe(32)}),
    )
    postgres = _read_or_create(folder / _POSTGRES_FILE, lambda: secrets.token_urlsafe(32))
    pii = _read_or_create(folder / _PII_FILE, lambda: secrets.token_bytes(32).hex())
    user, password = _parse_nats(folder / _NATS_FILE, nats_text)
    return StackSecrets(
        nats_user=user,
        nats_password=Secret(password),
        postgres_password=Secret(postgres),
        pii_hash_key=Secret(pii),
    )


def read_secrets(data_dir: Path) -> StackSecrets | None:
    """The stack's secrets if ``nb up`` made them in ``data_dir``, else ``None``.

    Raises:
        EmbeddedRuntimeError: a secret file exists but is empty or malformed.
    """
    folder = secrets_dir(data_dir)
    names = (_NATS_FILE, _POSTGRES_FILE, _PII_FILE)
    if not all((folder / name).is_file() for name in names):
        return None
    return load_or_create_secrets(data_dir)


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    """The text of ``path``; a new one from ``make()`` (0600) if it does not exist."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_private(path)
    with os.fdopen(fd, "w") as out:
        out.write(make())
    log.info("secret_generated", path=str(path))
    return _read_private(path)


def _read_private(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(0o600)
        log.warning("secret_permissions_tightened", path=str(path), was=oct(mode))
    text = path.read_text().strip()
    if not text:
        raise EmbeddedRuntimeError(f"{path} is empty: delete it to have a new secret generated")
    return text


def _parse_nats(path: Path, text: str) -> tuple[str, str]:
    try:
        data = json.loads(text)
        user, password = str(data["user"]), str(data["password"])
    except (ValueError, KeyError, TypeError):
        raise EmbeddedRuntimeError(
            f'{path} is not {{"user": ..., "password": ...}}: delete it to have it generated again'
        ) from None
    if not user or not password:
        raise EmbeddedRuntimeError(f"{path} has an empty user or password")
    return user, password
