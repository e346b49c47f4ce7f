"""Embedding clients shared by the dataset-transform worker and the proxy pipeline.

One :class:`Embedder` interface over OpenAI (and OpenAI-compatible servers),
Cohere, Jina AI, Voyage AI, Ollama, Hugging Face TEI and an offline local model.
Build clients with :func:`create_embedder` from an :class:`EmbedderProfile`
(which travels in messages and names, never holds, its API key) and one
process-wide :class:`EmbedderSettings`. Callers outside the operator's
configuration choose a profile by name from :func:`load_profiles`
(``EMBEDDER_PROFILES_FILE`` plus one default per provider)::

    profiles = load_profiles(env)
    settings = load_settings(EmbedderSettings, env)
    embedder = create_embedder(
        profiles.get("openai"), session=session, settings=settings, env=env
    )
    vectors = await embedder.embed(chunks, kind="document")

Clients split inputs to the provider's limits, pace requests per provider,
retry 429/5xx/timeouts (honouring ``Retry-After`` and rate-limit resets) and
raise the errors drawn in :mod:`neuralbridge.embedders.errors`.
"""

from neuralbridge.embedders.errors import (
    EmbedderConfigError,
    EmbedderError,
    EmbedderResponseError,
    EmbedderUnavailable,
    UnknownEmbedderProfileError,
)
from neuralbridge.embedders.profile import (
    EmbedderProfile,
    EmbedderSettings,
    KeyedEmbedderProfile,
)
from neuralbridge.embedders.profiles import (
    DEFAULT_PROFILE,
    PROFILE_NAME_PATTERN,
    EmbedderProfiles,
    load_profiles,
)
from neuralbridge.embedders.protocol import Embedder
from neuralbridge.embedders.registry import create_embedder

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILE_NAME_PATTERN",
    "Embedder",
    "EmbedderConfigError",
    "EmbedderError",
    "EmbedderProfile",
    "EmbedderProfiles",
    "EmbedderResponseError",
    "EmbedderSettings",
    "EmbedderUnavailable",
    "KeyedEmbedderProfile",
    "UnknownEmbedderProfileError",
    "create_embedder",
    "load_profiles",
]
