"""The HTTP plumbing every provider client shares: send, classify, retry, redact.

:class:`ProviderHTTP` is the base of the embedder and chat clients that call a
provider's JSON API. It owns what does not depend on the API: bearer headers,
POST with a timeout, turning timeouts, connection failures and non-2xx answers
into the client's own permanent or retryable error (with the server's wait hint
and the provider's error text, redacted), the tenacity controller that retries
the retryable one by type, and the retry log line. Subclasses name their error
classes and say what a request and an answer look like::

    class HttpEmbedder(ProviderHTTP[EmbedderError, EmbedderUnavailable]):
        retry_event = "embedder_request_retry"
        ...
        raw = await self._retrying()(self._fetch, body)

Status classification: 429 is ``rate_limited``; 408 and 504 are ``timeout``;
other 5xx are ``server_error`` (all retryable); every other non-2xx is permanent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar, Generic, TypeVar

import aiohttp
import structlog
from tenacity import AsyncRetrying, RetryCallState
from yarl import URL

from neuralbridge.core.providers.backoff import retrying
from neuralbridge.core.providers.errors import ProviderError, ProviderUnavailable
from neuralbridge.core.providers.hints import retry_hint
from neuralbridge.core.providers.messages import provider_error_message, redact
from neuralbridge.core.providers.settings import CallSettings

__all__ = ["ProviderHTTP", "checked_base_url", "status_error_type"]

log = structlog.get_logger()

RejectedT = TypeVar("RejectedT", bound=ProviderError)
UnavailableT = TypeVar("UnavailableT", bound=ProviderUnavailable)


def status_error_type(status: int) -> str | None:
    """Return the retryable ``error_type`` label of an HTTP status, or ``None`` if permanent."""
    if status == 429:
        return "rate_limited"
    if status in (408, 504):
        return "timeout"
    if status >= 500:
        return "server_error"
    return None


def checked_base_url(provider: str, base: str | None, *, error: Callable[[str], Exception]) -> str:
    """Return ``base`` without a trailing slash, or raise ``error`` if it is no http(s) URL.

    Args:
        provider: The provider name that starts the message.
        base: The configured API root (``None``: none configured, itself an error).
        error: Builds the (configuration) exception from a message.
    """
    if base is None:
        raise error(f"{provider}: base_url is required")
    url = URL(base)
    if url.scheme not in ("http", "https") or not url.host:
        raise error(f"{provider}: base_url must be an http(s) URL")
    return base.rstrip("/")


class ProviderHTTP(Generic[RejectedT, UnavailableT]):
    """Base of the clients that POST JSON to a provider's HTTP API.

    Args:
        provider: The provider name (metrics label, messages).
        model: The configured model.
        url: The endpoint to POST to.
        session: The process's HTTP session (not owned, never closed here).
        settings: Timeout and retries.
        api_key: The key to send as a bearer token, if any (masked in messages).
        rejected: The client's permanent error class.
        unavailable: The client's retryable error class.
        timeout: Overrides the plain ``settings.timeout`` total timeout.
        headers: Extra request headers (``Accept``).
    """

    #: The log event written before each in-call retry.
    retry_event: ClassVar[str] = "provider_request_retry"
    #: The log event written when the provider refuses a request (``None``: none).
    rejected_event: ClassVar[str | None] = None

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        url: URL,
        session: aiohttp.ClientSession,
        settings: CallSettings,
        api_key: str | None,
        rejected: type[RejectedT],
        unavailable: type[UnavailableT],
        timeout: aiohttp.ClientTimeout | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self._url = url
        self._session = session
        self._settings = settings
        self._api_key = api_key
        self._rejected = rejected
        self._unavailable = unavailable
        self._timeout = timeout or aiohttp.ClientTimeout(total=settings.timeout)
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def _retrying(self) -> AsyncRetrying:
        """A fresh controller retrying the client's unavailable error, logging each retry."""
        return retrying(
            self._unavailable,
            max_retries=self._settings.max_retries,
            retry_delay_ms=self._settings.retry_delay_ms,
            before_sleep=self._log_retry,
        )

    async def _send(self, body: bytes) -> aiohttp.ClientResponse:
        """POST ``body``; return a 2xx response (the caller releases it) or raise."""
        try:
            response = await self._session.post(
                self._url, data=body, headers=self._headers, timeout=self._timeout
            )
        except TimeoutError:
            raise self._timed_out() from None
        except aiohttp.ClientError as exc:
            raise self._connection_failed(exc) from None
        if 200 <= response.status < 300:
            return response
        try:
            raw = await response.read()
        except (TimeoutError, aiohttp.ClientError):
            raw = b""
        finally:
            response.release()
        raise self._http_error(response.status, response.headers, raw)

    async def _fetch(self, body: bytes) -> bytes:
        """POST ``body`` and return the whole 2xx answer body, or raise."""
        response = await self._send(body)
        try:
            return await response.read()
        except TimeoutError:
            raise self._timed_out() from None
        except aiohttp.ClientError as exc:
            raise self._connection_failed(exc) from None
        finally:
            response.release()

    def _http_error(
        self, status: int, headers: Mapping[str, str], raw: bytes
    ) -> RejectedT | UnavailableT:
        text = provider_error_message(self.provider, status, raw, secret=self._api_key)
        error_type = status_error_type(status)
        if error_type is not None:
            delay = retry_hint(headers)
            return self._unavailable(text, delay=delay, error_type=error_type, status=status)
        if self.rejected_event is not None:
            log.warning(self.rejected_event, provider=self.provider, status=status, error=text)
        return self._rejected(text, status=status)

    def _timed_out(self) -> UnavailableT:
        return self._unavailable(
            f"{self.provider}: no answer within {self._settings.timeout:g}s", error_type="timeout"
        )

    def _connection_failed(self, exc: aiohttp.ClientError) -> UnavailableT:
        return self._unavailable(
            self._redact(f"{self.provider}: connection failed: {type(exc).__name__}: {exc}"),
            error_type="connection",
        )

    def _gave_up(self, exc: UnavailableT) -> UnavailableT:
        """The error to raise once retries are spent: ``exc``, saying how often we tried."""
        attempts = self._settings.max_retries + 1
        return self._unavailable(
            f"{exc} (gave up after {attempts} attempts)",
            delay=exc.delay,
            error_type=exc.error_type,
            status=exc.status,
        )

    def _redact(self, text: str) -> str:
        return redact(text, secret=self._api_key)

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            self.retry_event,
            provider=self.provider,
            model=self.model,
            attempt=state.attempt_number,
            wait_s=round(state.upcoming_sleep, 3),
            error_type=getattr(error, "error_type", None),
            error=str(error),
        )
