"""Who is calling: principals from Bearer API keys, their role, and per-principal limits.

Every request has a principal. With API keys on it is ``key:<id>`` (the key's
label in its keys file, else the first 12 hex digits of its sha256 digest); the
key's digest is compared with every configured digest in constant time
(:func:`hmac.compare_digest`), so neither the key nor timing reveals which one
matched. With keys off (``GATEWAY_AUTH=off``) the principal is the client
address (``client:<address>``) and every caller may use every route.

Two roles: a user key may ask questions, chat, embed, give feedback and read
stats; an admin key may also manage datasets, uploads, transforms, jobs and
learning (:func:`require_admin`; 403 for a user key).

A caller's ``session_id`` never leaves the gateway as given:
:meth:`Access.session_key` turns (principal, session id) into an opaque id, a
keyed hash (``PII_HASH_KEY``), so two principals using the same session id
never share a conversation, a cache entry or a rate-limit bucket, and what the
pipeline stores and logs holds no caller-chosen text.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, NamedTuple

from litestar import Request

from neuralbridge.gateway.errors import ForbiddenError, UnauthenticatedError
from neuralbridge.gateway.ratelimit import RateLimiter
from neuralbridge.gateway.settings import KeyRing

__all__ = ["Access", "Caller", "caller_of", "require_admin", "require_caller"]

_STATE_KEY = "caller"


class Caller(NamedTuple):
    """An authenticated principal and whether it holds an admin key."""

    principal: str
    admin: bool


class Access:
    """API keys, roles, session scoping and rate limits, shared by every route.

    Args:
        keys: The configured keys (empty: keys are off).
        limiter: The per-principal and per-session token buckets.
        session_secret: ``PII_HASH_KEY``, the key of the session-id hash.
    """

    def __init__(self, keys: KeyRing, limiter: RateLimiter, session_secret: bytes) -> None:
        self._keys = tuple(
            [(digest, f"key:{kid}", False) for digest, kid in sorted(keys.users.items())]
            + [(digest, f"key:{kid}", True) for digest, kid in sorted(keys.admins.items())]
        )
        self._secret = session_secret
        self.limiter = limiter

    @property
    def keys_required(self) -> bool:
        """Whether requests must carry an API key."""
        return bool(self._keys)

    def identify(self, authorization: str | None, client: str) -> Caller:
        """The caller.

        Raises:
            UnauthenticatedError: keys are on and the header is missing, malformed or unknown.
        """
        if not self._keys:
            return Caller(f"client:{client}", admin=True)
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise UnauthenticatedError(
                "missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key"
            )
        digest = hashlib.sha256(key.strip().encode()).digest()
        found: Caller | None = None
        for known, principal, admin in self._keys:  # every digest compared: constant time
            if hmac.compare_digest(digest, known) and (found is None or admin):
                found = Caller(principal, admin)
        if found is None:
            raise UnauthenticatedError("invalid API key", code="invalid_api_key")
        return found

    def admit_caller(self, caller: Caller) -> None:
        """Take a token from the principal's bucket (raises ``RateLimitedError``)."""
        self.limiter.take(caller.principal, "API key" if self.keys_required else "client")

    def session_key(self, caller: Caller, session_id: str) -> str:
        """The opaque id of ``session_id`` as ``caller`` uses it (32 hex digits)."""
        message = f"{caller.principal}\x00{session_id}".encode("utf-8", "surrogatepass")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def admit_session(self, session_key: str) -> None:
        """Take a token from a session's bucket (raises ``RateLimitedError``).

        ``session_key`` is :meth:`session_key`'s result, so the bucket is the
        principal's session, never another principal's.
        """
        self.limiter.take(f"session:{session_key}", "session")


def caller_of(request: Request[Any, Any, Any]) -> Caller:
    """The caller :func:`require_caller` identified for ``request``."""
    caller: Caller = request.state[_STATE_KEY]
    return caller


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


async def require_admin(request: Request[Any, Any, Any]) -> None:
    """Like :func:`require_caller`, and 403 unless the key is an admin key."""
    await require_caller(request)
    if not caller_of(request).admin:
        raise ForbiddenError(
            "this route needs an admin key (GATEWAY_ADMIN_KEY_HASHES); a user key may ask "
            "questions, chat, embed and give feedback",
            code="admin_key_required",
        )
