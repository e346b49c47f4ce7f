"""The HTTP machinery every remote embedder shares.

:class:`HttpEmbedder` owns one request's life: split the inputs, wait for the
provider's rate-limit bucket, POST with a timeout, classify the answer, retry
transient failures with ``tenacity`` (by exception type), record metrics, and
decode the vectors. Sending, classifying, retrying and redacting come from
:class:`~neuralbridge.core.providers.http.ProviderHTTP`; provider modules only
say what the request body looks like and how to read the answer.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import aiohttp
import msgspec
import structlog
from yarl import URL

from neuralbridge.core.providers.credentials import resolve_credential
from neuralbridge.core.providers.http import ProviderHTTP, checked_base_url
from neuralbridge.embedders import metrics
from neuralbridge.embedders.batching import split_batches
from neuralbridge.embedders.errors import (
    EmbedderConfigError,
    EmbedderError,
    EmbedderResponseError,
    EmbedderUnavailable,
)
from neuralbridge.embedders.profile import EmbedderProfile, EmbedderSettings
from neuralbridge.embedders.protocol import EmbedKind
from neuralbridge.embedders.ratelimit import bucket_for

__all__ = ["HttpEmbedder"]

log = structlog.get_logger()


class HttpEmbedder(ProviderHTTP[EmbedderError, EmbedderUnavailable], ABC):
    """Base of the embedders that call a provider's HTTP API.

    Args:
        profile: The model and provider to call.
        session: The process's HTTP session (not owned: ``aclose`` leaves it open).
        settings: Timeouts, retries and pacing.
        api_key: The key to send as a bearer token, if any.
    """

    retry_event = "embedder_request_retry"
    rejected_event = "embedder_request_rejected"
    default_base_url: ClassVar[str | None] = None
    default_credential: ClassVar[str | None] = None
    credential_required: ClassVar[bool] = False
    path: ClassVar[str]
    #: The provider's documented inputs-per-request limit; ``None``: no fixed limit.
    input_limit: ClassVar[int | None]
    default_max_batch: ClassVar[int]
    accepted_options: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        profile: EmbedderProfile,
        *,
        session: aiohttp.ClientSession,
        settings: EmbedderSettings,
        api_key: str | None,
    ) -> None:
        self.profile = profile
        self.max_batch: int = self._max_batch(profile)
        base = checked_base_url(
            profile.provider, profile.base_url or self.default_base_url, error=EmbedderConfigError
        )
        super().__init__(
            provider=profile.provider,
            model=profile.model,
            url=URL(base + self.path),
            session=session,
            settings=settings,
            api_key=api_key,
            rejected=EmbedderError,
            unavailable=EmbedderUnavailable,
            headers={"Accept": "application/json"},
        )
        self._bucket = bucket_for(profile.provider, settings.requests_per_second)

    @classmethod
    def from_profile(
        cls,
        profile: EmbedderProfile,
        *,
        session: aiohttp.ClientSession,
        settings: EmbedderSettings,
        env: Mapping[str, str],
    ) -> Self:
        """Build the client, reading its API key from ``env``."""
        key = resolve_credential(
            env,
            profile.credential,
            default=cls.default_credential,
            required=cls.credential_required,
            what=f"{profile.provider} embedder",
            error=EmbedderConfigError,
        )
        return cls(profile, session=session, settings=settings, api_key=key)

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> list[list[float]]:
        """Return one vector per text, in input order (see :class:`Embedder`)."""
        vectors: list[list[float]] = []
        for batch in split_batches(texts, max_inputs=self.max_batch, max_tokens=self.token_limit()):
            vectors.extend(await self._embed_batch(batch, kind))
        return vectors

    async def aclose(self) -> None:
        """Nothing to release: the HTTP session belongs to the caller."""

    def token_limit(self) -> int | None:
        """The most (estimated) tokens one request may carry; ``None``: no limit."""
        return None

    @abstractmethod
    def request_body(self, batch: Sequence[str], kind: EmbedKind) -> dict[str, Any]:
        """Return the JSON body for one request."""

    @abstractmethod
    def decode_vectors(self, raw: bytes) -> list[list[float]]:
        """Decode a 200 body into vectors in input order.

        Raises:
            msgspec.ValidationError, msgspec.DecodeError: the body is malformed.
        """

    def _max_batch(self, profile: EmbedderProfile) -> int:
        unknown = set(profile.options) - self.accepted_options - {"max_batch"}
        if unknown:
            raise EmbedderConfigError(
                f"{profile.provider}: unknown option(s) {sorted(unknown)}; "
                f"accepted: {sorted(self.accepted_options | {'max_batch'})}"
            )
        wanted = profile.options.get("max_batch", self.default_max_batch)
        if not isinstance(wanted, int) or isinstance(wanted, bool) or wanted < 1:
            raise EmbedderConfigError(f"{profile.provider}: option max_batch must be an int >= 1")
        return min(wanted, self.input_limit) if self.input_limit else wanted

    async def _embed_batch(self, batch: Sequence[str], kind: EmbedKind) -> list[list[float]]:
        body = msgspec.json.encode(self.request_body(batch, kind))
        try:
            return await self._retrying()(self._call, body, len(batch))
        except EmbedderUnavailable as exc:
            attempts = self._settings.max_retries + 1
            log.warning(
                "embedder_unavailable", provider=self.provider, attempts=attempts, error=str(exc)
            )
            raise self._gave_up(exc) from exc

    async def _call(self, body: bytes, count: int) -> list[list[float]]:
        await self._bucket.acquire()
        started = time.perf_counter()
        metrics.CHUNKS_PER_CALL.labels(self.provider).observe(count)
        try:
            vectors = self._checked(await self._fetch(body), count)
        except (EmbedderError, EmbedderUnavailable) as exc:
            error_type = getattr(exc, "error_type", None) or (
                "bad_response" if isinstance(exc, EmbedderResponseError) else "client_error"
            )
            metrics.API_CALLS.labels(self.provider, "failure").inc()
            metrics.API_ERRORS.labels(self.provider, error_type).inc()
            raise
        finally:
            metrics.API_DURATION.labels(self.provider).observe(time.perf_counter() - started)
        metrics.API_CALLS.labels(self.provider, "success").inc()
        return vectors

    def _checked(self, raw: bytes, count: int) -> list[list[float]]:
        try:
            vectors = self.decode_vectors(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise EmbedderResponseError(
                self._redact(f"{self.provider}: malformed response: {exc}")
            ) from None
        if len(vectors) != count:
            raise EmbedderResponseError(
                f"{self.provider}: expected {count} vectors, got {len(vectors)}"
            )
        wanted = self.profile.dimensions
        for vector in vectors:
            if not vector or (wanted is not None and len(vector) != wanted):
                raise EmbedderResponseError(
                    f"{self.provider}: got a vector of size {len(vector)}, "
                    f"expected {wanted or 'a non-empty vector'}"
                )
        return vectors
