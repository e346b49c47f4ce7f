"""Provider name → client class, and the one factory services call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import aiohttp
import msgspec

from neuralbridge.embedders.cohere import CohereEmbedder
from neuralbridge.embedders.errors import EmbedderConfigError
from neuralbridge.embedders.jina import JinaEmbedder
from neuralbridge.embedders.local import LocalEmbedder
from neuralbridge.embedders.ollama import OllamaEmbedder
from neuralbridge.embedders.openai import OpenAICompatibleEmbedder, OpenAIEmbedder
from neuralbridge.embedders.profile import (
    EmbedderProfile,
    EmbedderSettings,
    KeyedEmbedderProfile,
)
from neuralbridge.embedders.protocol import Embedder
from neuralbridge.embedders.tei import TeiEmbedder
from neuralbridge.embedders.voyage import VoyageEmbedder

__all__ = ["REGISTRY", "create_embedder"]

#: The one-entry environment an inline key is read from (never the process's).
_INLINE_KEY = "INLINE_API_KEY"


class _EmbedderFactory(Protocol):
    def __call__(
        self,
        profile: EmbedderProfile,
        *,
        session: aiohttp.ClientSession,
        settings: EmbedderSettings,
        env: Mapping[str, str],
    ) -> Embedder: ...


REGISTRY: Mapping[str, _EmbedderFactory] = {
    "cohere": CohereEmbedder.from_profile,
    "jina": JinaEmbedder.from_profile,
    "local": LocalEmbedder.from_profile,
    "ollama": OllamaEmbedder.from_profile,
    "openai": OpenAIEmbedder.from_profile,
    "openai_compatible": OpenAICompatibleEmbedder.from_profile,
    "tei": TeiEmbedder.from_profile,
    "voyage": VoyageEmbedder.from_profile,
}


def create_embedder(
    profile: EmbedderProfile,
    *,
    session: aiohttp.ClientSession,
    settings: EmbedderSettings,
    env: Mapping[str, str],
) -> Embedder:
    """Build the client for ``profile``.

    Args:
        profile: Provider, model and options (from a message or configuration);
            a :class:`KeyedEmbedderProfile` with ``api_key`` uses that key and
            reads nothing from ``env``.
        session: The process's HTTP session; clients share it and never close it.
        settings: Timeouts, retries and pacing (``EMBEDDER_*`` variables).
        env: Where the API key variable named by the profile is read.

    Returns:
        An :class:`Embedder` for the profile's provider.

    Raises:
        EmbedderConfigError: unknown provider, missing ``base_url``, unknown
            option, missing API key variable (named, never its value), or the
            ``local`` extra not installed, or both ``api_key`` and ``credential``.
    """
    factory = REGISTRY.get(profile.provider)
    if factory is None:
        raise EmbedderConfigError(f"unknown embedder provider {profile.provider!r}")
    if isinstance(profile, KeyedEmbedderProfile) and profile.api_key:
        if profile.credential is not None:
            raise EmbedderConfigError(
                f"{profile.provider} embedder: give api_key or credential, not both"
            )
        keyed = msgspec.structs.replace(profile.plain(), credential=_INLINE_KEY)
        return factory(
            keyed, session=session, settings=settings, env={_INLINE_KEY: profile.api_key}
        )
    return factory(profile, session=session, settings=settings, env=env)
