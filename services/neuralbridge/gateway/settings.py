"""The gateway's settings (``GATEWAY_*``, ``PII_HASH_KEY``), read once by the composition root.

``GATEWAY_PORT`` is 4000 so the seed's curl examples work verbatim.

**Keys.** Two kinds, each as comma-separated sha256 hex digests or a file (one
digest per line, ``#`` comments, an optional label after the digest): user keys
(``GATEWAY_API_KEY_HASHES`` / ``GATEWAY_API_KEYS_FILE``: questions, chat,
embeddings, feedback, stats) and admin keys (``GATEWAY_ADMIN_KEY_HASHES`` /
``GATEWAY_ADMIN_KEYS_FILE``: everything, including datasets, uploads,
transforms, jobs and learning). The gateway never holds a key in clear. A
key's id (its principal, in rate limits and sessions) is its label, else the
first 12 hex digits of its digest.

**Secure by default.** Without any key the gateway refuses to start unless
``GATEWAY_AUTH=off`` says that anyone who can reach it may call it (``nb up``
sets that for its loopback-only stack when no key is configured). Keys and
``GATEWAY_AUTH=off`` together are a contradiction and refused too.

``PII_HASH_KEY`` (a secret, at least 32 characters, the same on every replica)
keys the hash that turns a caller's ``session_id`` (or OpenAI ``user``) into the
opaque session id the rest of the system sees.

``GATEWAY_RATE_LIMIT_PER_MINUTE`` (0: off) sizes both the per-principal and the
per-session token buckets; the replicas share what they hand out every
``GATEWAY_RATE_LIMIT_SYNC_SECONDS`` (0: each replica limits on its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.settings import CommonSettings, Port, PositiveFloat, Secret

__all__ = ["GatewaySettings", "KeyHash", "KeyRing", "load_keys"]

KeyHash = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{64}$")]

#: The shortest PII_HASH_KEY accepted (characters).
MIN_PII_HASH_KEY = 32


class GatewaySettings(CommonSettings, frozen=True, kw_only=True):
    """Gateway settings (see the module docstring)."""

    gateway_port: Port = 4000
    #: Seconds a request may take end to end (its deadline in the ProxyRequest).
    gateway_request_timeout: PositiveFloat = 60.0
    gateway_max_body_bytes: Annotated[int, msgspec.Meta(gt=0)] = 1_048_576
    gateway_auth: Literal["on", "off"] = "on"
    gateway_api_keys_file: str | None = None
    gateway_api_key_hashes: tuple[KeyHash, ...] = ()
    gateway_admin_keys_file: str | None = None
    gateway_admin_key_hashes: tuple[KeyHash, ...] = ()
    pii_hash_key: Secret | None = None
    gateway_rate_limit_per_minute: Annotated[int, msgspec.Meta(ge=0)] = 600
    gateway_rate_limit_sync_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.25

    def __post_init__(self) -> None:
        configured = bool(
            self.gateway_api_keys_file or self.gateway_api_key_hashes
            or self.gateway_admin_keys_file or self.gateway_admin_key_hashes
        )  # fmt: skip
        if self.gateway_auth == "on" and not configured:
            raise ValueError(
                "the gateway needs API keys: set GATEWAY_API_KEY_HASHES or GATEWAY_API_KEYS_FILE "
                "(and GATEWAY_ADMIN_KEY_HASHES or GATEWAY_ADMIN_KEYS_FILE), or GATEWAY_AUTH=off "
                "to let anyone who can reach it call it"
            )
        if self.gateway_auth == "off" and configured:
            raise ValueError(
                "GATEWAY_AUTH=off contradicts the API keys configured: unset one or the other"
            )
        if self.pii_hash_key is None:
            raise ValueError(
                "PII_HASH_KEY is required (a random secret of at least "
                f"{MIN_PII_HASH_KEY} characters, the same on every gateway replica)"
            )
        if len(self.pii_hash_key.reveal()) < MIN_PII_HASH_KEY:
            raise ValueError(f"PII_HASH_KEY must hold at least {MIN_PII_HASH_KEY} characters")


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The configured keys: digest (bytes) → key id, for users and for admins.

    Empty (both maps) when API keys are off.
    """

    users: dict[bytes, str]
    admins: dict[bytes, str]

    @property
    def empty(self) -> bool:
        """Whether no key at all is configured (API keys off)."""
        return not self.users and not self.admins


def load_keys(settings: GatewaySettings) -> KeyRing:
    """Every configured key digest with its id.

    Raises:
        ConfigError: a keys file cannot be read, holds a line that is not a digest, or
            holds no digest at all.
    """
    users = _read_keys(
        "GATEWAY_API_KEYS_FILE", settings.gateway_api_keys_file, settings.gateway_api_key_hashes
    )
    admins = _read_keys(
        "GATEWAY_ADMIN_KEYS_FILE",
        settings.gateway_admin_keys_file,
        settings.gateway_admin_key_hashes,
    )
    return KeyRing(users=users, admins=admins)


def _read_keys(variable: str, file: str | None, hashes: tuple[str, ...]) -> dict[bytes, str]:
    keys = {bytes.fromhex(h): h.lower()[:12] for h in hashes}
    if file is None:
        return keys
    path = Path(file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"configuration error: {variable}={str(path)!r} cannot be read ({type(exc).__name__})"
        ) from None
    found = 0
    for number, line in enumerate(lines, start=1):
        digest, _, label = line.split("#", 1)[0].strip().partition(" ")
        if not digest:
            continue
        if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise ConfigError(
                f"configuration error: {variable} line {number}: expected a sha256 "
                "hex digest (64 hex characters)"
            )
        keys[bytes.fromhex(digest)] = _key_id(label.strip()) or digest.lower()[:12]
        found += 1
    if not found:
        raise ConfigError(f"configuration error: {variable} holds no key digest")
    return keys


def _key_id(label: str) -> str:
    """A label usable as a principal id (letters, digits, ``._-``; at most 64), else ''."""
    cleaned = "".join(c for c in label if c.isascii() and (c.isalnum() or c in "._-"))
    return cleaned[:64]
