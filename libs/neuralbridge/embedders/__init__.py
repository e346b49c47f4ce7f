"""Embedding clients shared by the dataset-transform worker and the proxy pipeline.

One :class:`Embedder` interface over OpenAI (and OpenAI-compatible servers),
Cohere, Jina AI, Voyage AI, Ollama, Hugging Face TEI and an offline local model.
Build clients with :func:`create_embedder` from an :class:`EmbedderProfile`
(which travels in messages and names, never holds, its API key) and one
process-wide :class:`EmbedderSettings`::

    settings = load_settings(EmbedderSettings, env)
    embedder = create_embedder(profile, session=session, settings=settings, env=env)
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
)
from neuralbridge.embedders.profile import EmbedderProfile, EmbedderSettings
from neuralbridge.embedders.protocol import Embedder
from neuralbridge.embedders.registry import create_embedder

__all__ = [
    "Embedder",
    "EmbedderConfigError",
    "EmbedderError",
    "EmbedderProfile",
    "EmbedderResponseError",
    "EmbedderSettings",
    "EmbedderUnavailable",
    "create_embedder",
]
