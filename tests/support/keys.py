"""API keys for tests that run the gateway with keys on: two user keys and an admin key."""

from __future__ import annotations

import hashlib

__all__ = ["ADMIN_KEY", "KEYS", "OTHER_USER_KEY", "USER_KEY", "bearer", "digest"]

USER_KEY = "nb-test-user-key-0123456789"
OTHER_USER_KEY = "nb-test-other-user-key-0123456789"
ADMIN_KEY = "nb-test-admin-key-0123456789"


def digest(key: str) -> str:
    """The sha256 hex digest the gateway is configured with for ``key``."""
    return hashlib.sha256(key.encode()).hexdigest()


def bearer(key: str) -> dict[str, str]:
    """The ``Authorization`` header that presents ``key``."""
    return {"Authorization": f"Bearer {key}"}


#: Both user keys and the admin key, as an operator configures them.
KEYS = {
    "GATEWAY_API_KEY_HASHES": f"{digest(USER_KEY)},{digest(OTHER_USER_KEY)}",
    "GATEWAY_ADMIN_KEY_HASHES": digest(ADMIN_KEY),
}
