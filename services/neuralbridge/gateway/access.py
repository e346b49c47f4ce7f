"""Who is calling: Bearer API keys checked by sha256 digest, and per-caller limits.

Keys are off when no digest is configured (the embedded default): every caller
is then identified by its client address. When digests are configured, a
request needs ``Authorization: Bearer <key>``; the key's sha256 is compared with
every configured digest in constant time (:func:`hmac.compare_digest`), so
neither the key nor timing reveals which digest matched. The caller's identity
for rate limiting is a short prefix of its digest — never the key.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from litestar import Request

from neuralbridge.gateway.errors import UnauthenticatedError
from neuralbridge.gateway.ratelimit import RateLimiter

__all__ = ["Access", "require_caller"]

_STATE_KEY = "caller"


class Access:
    """API keys and rate limits, shared by every route.

    Args:
        key_hashes: Lower-case sha256 hex digests of the valid keys (empty: keys are off).
        limiter: The per-key and per-session token buckets.
    """

    def __init__(self, key_hashes: frozenset[str], limiter: RateLimiter) -> None:
        self._hashes = tuple(bytes.fromhex(h) for h in sorted(key_hashes))
        self.limiter = limiter

    @property
    def keys_required(self) -> bool:
        """Whether requests must carry an API key."""
        return bool(self._hashes)

    def identify(self, authorization: str | None, client: str) -> str:
        """The caller's identity.

        Raises:
            UnauthenticatedError: keys are on and the header is missing, malformed or unknown.
        """
        if not self._hashes:
            return f"client:{client}"
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise UnauthenticatedError(
                "missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key"
            )
        digest = hashlib.sha256(key.strip().encode()).digest()
        matched = False
        for known in self._hashes:
            matched |= hmac.compare_digest(digest, known)
        if not matched:
            raise UnauthenticatedError("invalid API key", code="invalid_api_key")
        return f"key:{digest.hex()[:16]}"

    def admit_caller(self, caller: str) -> None:
        """Take a token from the caller's bucket (raises ``RateLimitedError``)."""
        self.limiter.take(caller, "API key" if self.keys_required else "client")

    def admit_session(self, session_id: str) -> None:
        """Take a token from the session's bucket (raises ``RateLimitedError``)."""
        self.limiter.take(f"session:{session_id}", "session")


async def require_caller(request: Request[Any, Any, Any]) -> None:
    """Litestar ``before_request`` hook: authenticate the caller, take a token from its bucket.

    It runs before the body is read. A hook rather than a guard: Litestar copies
    the route handler for every guard call, which cost more than the check
    itself. A coroutine although it never awaits: Litestar would run a
    synchronous hook in a worker thread.
    """
    access: Access = request.app.state.access
    client = request.client.host if request.client else "unknown"
    caller = access.identify(request.headers.get("authorization"), client)
    request.state[_STATE_KEY] = caller
    access.admit_caller(caller)
