"""The worker's embedder clients: profile names resolved, one client per definition.

A job names an operator-configured profile (``EMBEDDER_PROFILES_FILE`` plus
the per-provider defaults), or, from a trusted NATS publisher, carries a full
profile (possibly with an inline ``api_key``). Clients are kept and shared, so
the pool keys them by everything that defines one: provider, model, base URL,
dimensions, options, the credential variable's name and a digest of the key
itself. A job with another endpoint or key never gets (or poisons) the client
of a legitimate profile.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping

import aiohttp
import msgspec

from neuralbridge.embedders import (
    Embedder,
    EmbedderConfigError,
    EmbedderProfile,
    EmbedderProfiles,
    EmbedderSettings,
    KeyedEmbedderProfile,
    create_embedder,
)
from neuralbridge.embedders.registry import REGISTRY
from neuralbridge.messages.datasets import REDACTED

__all__ = ["MAX_CLIENTS", "EmbedderPool", "client_key"]

#: Clients kept at once; the least recently used goes first (jobs may carry their own keys).
MAX_CLIENTS = 256


def client_key(profile: EmbedderProfile, env: Mapping[str, str]) -> str:
    """What identifies one client: every field of the profile and a digest of its key.

    The key's value is hashed (never kept or shown) so that two jobs naming
    the same variable share a client, and two inline keys never do.
    """
    variable = profile.credential or _default_credential(profile.provider)
    secret = profile.api_key if isinstance(profile, KeyedEmbedderProfile) else None
    if not secret:
        secret = env.get(variable, "") if variable else ""
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return msgspec.json.encode(
        [
            profile.provider,
            profile.model,
            profile.base_url,
            profile.dimensions,
            sorted(profile.options.items()),
            variable,
            digest,
        ]
    ).decode()


def _default_credential(provider: str) -> str | None:
    factory = REGISTRY.get(provider)
    owner = getattr(factory, "__self__", None)
    return getattr(owner, "default_credential", None)


class EmbedderPool:
    """Resolve what a job names and create embedders on first use, then keep them.

    Args:
        session: The service's HTTP session (shared by every client).
        settings: Timeouts, retries and pacing.
        env: The process environment (where credential variables are read).
        profiles: The operator's named profiles.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: EmbedderSettings,
        env: Mapping[str, str],
        profiles: EmbedderProfiles,
    ) -> None:
        self._session = session
        self._settings = settings
        self._env = env
        self.profiles = profiles
        self._embedders: OrderedDict[str, Embedder] = OrderedDict()

    def resolve(self, embedder: str | EmbedderProfile) -> EmbedderProfile:
        """The profile a job means: a configured one by name, or the one it carries.

        Raises:
            UnknownEmbedderProfileError: no profile has that name.
            EmbedderConfigError: the inline key is the mask of a dead-letter copy.
        """
        if isinstance(embedder, str):
            return self.profiles.get(embedder)
        if isinstance(embedder, KeyedEmbedderProfile) and embedder.api_key == REDACTED:
            raise EmbedderConfigError(
                "embedder.api_key is masked (a dead-letter copy): replay it with a credential"
            )
        return embedder

    def get(self, embedder: str | EmbedderProfile) -> Embedder:
        """The embedder for a profile or profile name (raises EmbedderConfigError)."""
        profile = self.resolve(embedder)
        key = client_key(profile, self._env)
        client = self._embedders.get(key)
        if client is None:
            client = create_embedder(
                profile, session=self._session, settings=self._settings, env=self._env
            )
            self._embedders[key] = client
            if len(self._embedders) > MAX_CLIENTS:
                # Clients own nothing (the session is shared): dropping one closes nothing.
                self._embedders.popitem(last=False)
        self._embedders.move_to_end(key)
        return client
