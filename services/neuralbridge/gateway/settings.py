"""The gateway's settings (``GATEWAY_*``), read once by the composition root.

``GATEWAY_PORT`` is 4000 so the seed's curl examples work verbatim. API keys
are off unless ``GATEWAY_API_KEYS_FILE`` (one sha256 hex digest per line,
``#`` comments, an optional label after the digest) or
``GATEWAY_API_KEY_HASHES`` (comma-separated sha256 hex digests) is set: the
gateway never holds a key in clear. ``GATEWAY_RATE_LIMIT_PER_MINUTE`` (0: off)
sizes both the per-key and the per-session token buckets; the replicas share
what they hand out every ``GATEWAY_RATE_LIMIT_SYNC_SECONDS`` (0: each replica
limits on its own).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.settings import CommonSettings, Port, PositiveFloat

__all__ = ["GatewaySettings", "KeyHash", "load_key_hashes"]

KeyHash = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{64}$")]


class GatewaySettings(CommonSettings, frozen=True, kw_only=True):
    """Gateway settings (see the module docstring)."""

    gateway_port: Port = 4000
    #: Seconds a request may take end to end (its deadline in the ProxyRequest).
    gateway_request_timeout: PositiveFloat = 60.0
    gateway_max_body_bytes: Annotated[int, msgspec.Meta(gt=0)] = 1_048_576
    gateway_api_keys_file: str | None = None
    gateway_api_key_hashes: tuple[KeyHash, ...] = ()
    gateway_rate_limit_per_minute: Annotated[int, msgspec.Meta(ge=0)] = 600
    gateway_rate_limit_sync_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.25


def load_key_hashes(settings: GatewaySettings) -> frozenset[str]:
    """Every configured key digest, lower-cased (empty: API keys are off).

    Raises:
        ConfigError: the keys file cannot be read or holds a line that is not a digest.
    """
    hashes = {h.lower() for h in settings.gateway_api_key_hashes}
    if settings.gateway_api_keys_file is None:
        return frozenset(hashes)
    path = Path(settings.gateway_api_keys_file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(
            f"configuration error: GATEWAY_API_KEYS_FILE={str(path)!r} cannot be read "
            f"({type(exc).__name__})"
        ) from None
    for number, line in enumerate(lines, start=1):
        digest = line.split("#", 1)[0].strip().split(" ", 1)[0]
        if not digest:
            continue
        if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise ConfigError(
                f"configuration error: GATEWAY_API_KEYS_FILE line {number}: expected a sha256 "
                "hex digest (64 hex characters)"
            )
        hashes.add(digest.lower())
    if not hashes:
        raise ConfigError("configuration error: GATEWAY_API_KEYS_FILE holds no key digest")
    return frozenset(hashes)
