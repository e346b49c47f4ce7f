"""One embedder client per profile, sharing the service's HTTP session."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from neuralbridge.embedders import Embedder, EmbedderProfile, EmbedderSettings, create_embedder

__all__ = ["EmbedderPool"]


class EmbedderPool:
    """Create embedders on first use and keep them (rate limits are per provider)."""

    def __init__(
        self, session: aiohttp.ClientSession, settings: EmbedderSettings, env: Mapping[str, str]
    ) -> None:
        self._session = session
        self._settings = settings
        self._env = env
        self._embedders: dict[str, Embedder] = {}

    def get(self, profile: EmbedderProfile) -> Embedder:
        """The embedder for ``profile`` (raises EmbedderConfigError if misconfigured)."""
        key = profile.cache_identity
        if key not in self._embedders:
            self._embedders[key] = create_embedder(
                profile, session=self._session, settings=self._settings, env=self._env
            )
        return self._embedders[key]
