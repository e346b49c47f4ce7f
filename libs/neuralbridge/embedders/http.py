"""The HTTP machinery every remote embedder shares.

:class:`HttpEmbedder` owns one request's life: split the inputs, wait for the
provider's rate-limit bucket, POST with a timeout, classify the answer, retry
transient failures with ``tenacity`` (by exception type), record metrics, and
decode the vectors. Provider modules only say what the request body looks like
and how to read the answer.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import aiohttp
import msgspec
import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from yarl import URL

from neuralbridge.core.observability.logs import scrub
from neuralbridge.embedders import metrics
from neuralbridge.embedders.batching import split_batches
from neuralbridge.embedders.credentials import resolve_api_key
from neuralbridge.embedders.errors import (
    EmbedderConfigError,
    EmbedderError,
    EmbedderResponseError,
    EmbedderUnavailable,
)
from neuralbridge.embedders.profile import EmbedderProfile, EmbedderSettings
from neuralbridge.embedders.protocol import EmbedKind
from neuralbridge.embedders.ratelimit import bucket_for
from neuralbridge.embedders.retry import BackoffWait, retry_hint

__all__ = ["HttpEmbedder"]

log = structlog.get_logger()

_MASK = "********"
_MAX_MESSAGE = 500


class _ErrorBody(msgspec.Struct):
    """Every error body shape we know: OpenAI, Cohere, Jina/Voyage, Ollama/TEI."""

    error: Any = None
    message: Any = None
    detail: Any = None


class HttpEmbedder(ABC):
    """Base of the embedders that call a provider's HTTP API.

    Args:
        profile: The model and provider to call.
        session: The process's HTTP session (not owned: ``aclose`` leaves it open).
        settings: Timeouts, retries and pacing.
        api_key: The key to send as a bearer token, if any.
    """

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
        self.provider: str = profile.provider
        self.model: str = profile.model
        self.profile = profile
        self.max_batch: int = self._max_batch(profile)
        self._url = self._endpoint(profile)
        self._session = session
        self._settings = settings
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=settings.timeout)
        self._bucket = bucket_for(profile.provider, settings.requests_per_second)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

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
        key = resolve_api_key(profile, cls.default_credential, cls.credential_required, env)
        return cls(profile, session=session, settings=settings, api_key=key)

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> list[list[float]]:
        """Return one vector per text, in input order (see :class:`Embedder`)."""
        vectors: list[list[float]] = []
        for batch in split_batches(texts, max_inputs=self.max_batch, max_tokens=self.token_limit()):
            vectors.extend(await self._embed_batch(batch, kind))
        return vectors

    async def aclose(self) -> None:  # noqa: B027 - deliberately a no-op, not abstract
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

    def _endpoint(self, profile: EmbedderProfile) -> URL:
        base = profile.base_url or self.default_base_url
        if base is None:
            raise EmbedderConfigError(f"{profile.provider}: base_url is required")
        url = URL(base)
        if url.scheme not in ("http", "https") or not url.host:
            raise EmbedderConfigError(f"{profile.provider}: base_url must be an http(s) URL")
        return URL(base.rstrip("/") + self.path)

    async def _embed_batch(self, batch: Sequence[str], kind: EmbedKind) -> list[list[float]]:
        body = msgspec.json.encode(self.request_body(batch, kind))
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(EmbedderUnavailable),
            stop=stop_after_attempt(self._settings.max_retries + 1),
            wait=BackoffWait(self._settings.retry_delay_ms / 1000.0),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return await retrying(self._call, body, len(batch))
        except EmbedderUnavailable as exc:
            attempts = self._settings.max_retries + 1
            log.warning(
                "embedder_unavailable", provider=self.provider, attempts=attempts, error=str(exc)
            )
            raise EmbedderUnavailable(
                f"{exc} (gave up after {attempts} attempts)",
                delay=exc.delay,
                error_type=exc.error_type,
                status=exc.status,
            ) from exc

    async def _call(self, body: bytes, count: int) -> list[list[float]]:
        await self._bucket.acquire()
        started = time.perf_counter()
        metrics.CHUNKS_PER_CALL.labels(self.provider).observe(count)
        try:
            vectors = self._checked(await self._post(body), count)
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

    async def _post(self, body: bytes) -> bytes:
        try:
            async with self._session.post(
                self._url, data=body, headers=self._headers, timeout=self._timeout
            ) as response:
                raw = await response.read()
                status, headers = response.status, response.headers
        except TimeoutError:
            raise EmbedderUnavailable(
                f"{self.provider}: no answer within {self._settings.timeout:g}s",
                error_type="timeout",
            ) from None
        except aiohttp.ClientError as exc:
            raise EmbedderUnavailable(
                self._redact(f"{self.provider}: connection failed: {type(exc).__name__}: {exc}"),
                error_type="connection",
            ) from None
        if 200 <= status < 300:
            return raw
        raise self._http_error(status, headers, raw)

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

    def _http_error(
        self, status: int, headers: Mapping[str, str], raw: bytes
    ) -> EmbedderError | EmbedderUnavailable:
        text = self._redact(f"{self.provider}: HTTP {status}: {_provider_message(raw)}")
        if status == 429:
            return EmbedderUnavailable(
                text, delay=retry_hint(headers), error_type="rate_limited", status=status
            )
        if status == 408 or status >= 500:
            error_type = "timeout" if status in (408, 504) else "server_error"
            return EmbedderUnavailable(
                text, delay=retry_hint(headers), error_type=error_type, status=status
            )
        log.warning("embedder_request_rejected", provider=self.provider, status=status, error=text)
        return EmbedderError(text, status=status)

    def _redact(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, _MASK)
        return scrub(text)[:_MAX_MESSAGE]

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "embedder_request_retry",
            provider=self.provider,
            attempt=state.attempt_number,
            wait_s=round(state.upcoming_sleep, 3),
            error_type=getattr(error, "error_type", None),
            error=str(error),
        )


def _provider_message(raw: bytes) -> str:
    """Extract the provider's own error text from its JSON error body."""
    try:
        body = msgspec.json.decode(raw, type=_ErrorBody)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return raw.decode("utf-8", "replace").strip()[:200] or "(empty body)"
    error = body.error
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    for candidate in (error, body.message, body.detail):
        if isinstance(candidate, str):
            return candidate
    if isinstance(body.detail, list):
        return "; ".join(
            str(item.get("msg", item) if isinstance(item, dict) else item) for item in body.detail
        )
    return raw.decode("utf-8", "replace").strip()[:200]
