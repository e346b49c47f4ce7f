"""What an embedder is (a profile, carried in messages) and how hard it tries (settings).

An :class:`EmbedderProfile` travels inside NATS messages, so it names the
environment variable that holds an API key and never the key itself.
:class:`KeyedEmbedderProfile` is the one exception: the job format other
services publish on NATS (trusted publishers only) may carry the key inline as
``api_key``; its ``repr`` never shows it. The :class:`EmbedderSettings` come
from the process environment, once, in a composition root::

    settings = load_settings(EmbedderSettings, env)   # neuralbridge.core.settings
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from neuralbridge.core.providers.settings import Milliseconds, Retries, Seconds

__all__ = [
    "EmbedderProfile",
    "EmbedderSettings",
    "KeyedEmbedderProfile",
    "OptionValue",
    "Provider",
]

Provider = Literal[
    "openai", "openai_compatible", "cohere", "jina", "voyage", "ollama", "tei", "local"
]
OptionValue = str | int | float | bool

#: Options that only steer the client (request sizes), never the vectors.
_CLIENT_ONLY_OPTIONS = frozenset({"max_batch"})
_LOCAL_PREFIX = "sentence-transformers/"


class EmbedderProfile(msgspec.Struct, frozen=True, kw_only=True):
    """One embedding model at one provider, safe to put in a message.

    Attributes:
        provider: Which API speaks for the model.
        model: The provider's model name (``text-embedding-3-small``, ``embed-v4.0``).
        base_url: The API root; ``None`` selects the provider's public endpoint
            (required for ``tei`` and ``openai_compatible``).
        dimensions: Output size for models that can shorten their vectors (OpenAI
            ``dimensions``, Jina ``dimensions``, Voyage/Cohere ``output_dimension``).
        options: Provider-specific extras such as Jina ``task``, ``truncate`` or
            ``max_batch`` (inputs per request).
        credential: The NAME of the environment variable holding the API key;
            ``None`` selects the provider's default (``OPENAI_API_KEY``, ...).
    """

    provider: Provider
    model: str
    base_url: str | None = None
    dimensions: Annotated[int, msgspec.Meta(gt=0)] | None = None
    options: dict[str, OptionValue] = {}
    credential: str | None = None

    @property
    def cache_identity(self) -> str:
        """A string naming the vectors this profile produces, for an embedding cache.

        It covers provider, model, dimensions and the options that change vectors
        (not ``max_batch``, not the base URL or credential). Callers caching both
        document and query vectors must add the ``kind`` themselves.
        """
        model = self.model
        if self.provider == "local":
            model = model.removeprefix(_LOCAL_PREFIX)
        options = {k: v for k, v in sorted(self.options.items()) if k not in _CLIENT_ONLY_OPTIONS}
        return msgspec.json.encode([self.provider, model, self.dimensions, options]).decode()

    @property
    def endpoint_identity(self) -> str:
        """:attr:`cache_identity` plus the base URL, for caches shared by many callers.

        Vectors from another endpoint are not the vectors of this profile (the
        endpoint may be anyone's), so a shared cache keys them apart. Profiles
        on the provider's public endpoint (``base_url`` unset) keep the plain
        :attr:`cache_identity`.
        """
        if self.base_url is None:
            return self.cache_identity
        return f"{self.cache_identity}@{self.base_url.rstrip('/')}"

    def plain(self) -> EmbedderProfile:
        """This profile as a plain :class:`EmbedderProfile` (no inline key)."""
        return EmbedderProfile(
            provider=self.provider,
            model=self.model,
            base_url=self.base_url,
            dimensions=self.dimensions,
            options=dict(self.options),
            credential=self.credential,
        )


class KeyedEmbedderProfile(EmbedderProfile, frozen=True, kw_only=True):
    """A profile whose API key travels inline, as trusted publishers' jobs may send it.

    Accepted only from NATS publishers (NATS auth decides who they are), never
    from HTTP callers. The key is used, never logged: ``repr`` masks it, and a
    dead-letter copy carries it replaced by ``********``.

    Attributes:
        api_key: The key itself; ``None`` falls back to ``credential``.
    """

    api_key: str | None = None

    def __repr__(self) -> str:
        shown = "'********'" if self.api_key else "None"
        return f"KeyedEmbedderProfile({self.plain()!r}, api_key={shown})"


class EmbedderSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How embedder clients call providers; one instance per process.

    Attributes:
        timeout: Seconds one HTTP call may take (``EMBEDDER_TIMEOUT``).
        max_retries: Retries after the first attempt on 429/5xx/timeouts/connection
            errors (``EMBEDDER_MAX_RETRIES``).
        retry_delay_ms: Base of the exponential backoff with jitter
            (``EMBEDDER_RETRY_DELAY_MS``).
        requests_per_second: Requests per second per provider name, shared by
            every client in the process (``MAX_EMBEDDER_REQUESTS_PER_SECOND``).
    """

    timeout: Seconds = msgspec.field(default=60.0, name="EMBEDDER_TIMEOUT")
    max_retries: Retries = msgspec.field(default=3, name="EMBEDDER_MAX_RETRIES")
    retry_delay_ms: Milliseconds = msgspec.field(default=1000, name="EMBEDDER_RETRY_DELAY_MS")
    requests_per_second: Annotated[float, msgspec.Meta(gt=0)] = msgspec.field(
        default=10.0, name="MAX_EMBEDDER_REQUESTS_PER_SECOND"
    )
