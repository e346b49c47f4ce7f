"""The HTTP machinery the OpenAI and Ollama chat clients share.

:class:`HttpChatClient` owns one call's life: POST with timeouts, classify the
answer, retry transient failures with ``tenacity`` (by exception type) until a
complete answer or a stream's first token, then read the stream without ever
retrying, record metrics and log one canonical line. Provider modules only say
what the request body looks like and how to read answers and stream lines.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, Self

import aiohttp
import msgspec
import structlog
from tenacity import RetryCallState
from yarl import URL

from neuralbridge.core.observability.logs import scrub
from neuralbridge.embedders.http import _provider_message
from neuralbridge.embedders.retry import retry_hint
from neuralbridge.llm.chat import ChatRequest, ChatResult, Delta, Done, StreamEvent
from neuralbridge.llm.credentials import resolve_api_key
from neuralbridge.llm.errors import (
    LLMConfigError,
    LLMError,
    LLMResponseError,
    LLMStreamBroken,
    LLMUnavailable,
)
from neuralbridge.llm.outcome import CallRecord, count_attempt
from neuralbridge.llm.profile import LLMProfile, LLMSettings
from neuralbridge.llm.retry import retrying
from neuralbridge.llm.streaming import StreamState, next_text

__all__ = ["HttpChatClient"]

log = structlog.get_logger()

_MASK = "********"
_MAX_MESSAGE = 500


class HttpChatClient(ABC):
    """Base of the chat clients that call a provider's HTTP API.

    Args:
        profile: The model and provider to call.
        session: The process's HTTP session (not owned, never closed here).
        settings: Timeouts and retries.
        api_key: The key to send as a bearer token, if any.
    """

    default_base_url: ClassVar[str]
    path: ClassVar[str]

    def __init__(
        self,
        profile: LLMProfile,
        *,
        session: aiohttp.ClientSession,
        settings: LLMSettings,
        api_key: str | None,
    ) -> None:
        self.provider: str = profile.provider
        self.model: str = profile.model
        self.profile = profile
        self.base_url = self._base_url(profile)
        self._url = URL(self.base_url + self.path)
        self._session = session
        self._settings = settings
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(
            total=settings.timeout, sock_connect=settings.connect_timeout
        )
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    @classmethod
    def from_profile(
        cls,
        profile: LLMProfile,
        *,
        session: aiohttp.ClientSession,
        settings: LLMSettings,
        env: Mapping[str, str],
    ) -> Self:
        """Build the client, reading its API key from ``env``."""
        key = resolve_api_key(profile, cls.default_credential(profile), env)
        return cls(profile, session=session, settings=settings, api_key=key)

    @classmethod
    def default_credential(cls, profile: LLMProfile) -> str | None:
        """The key variable used when the profile names none (``None``: send no key)."""
        return None

    @abstractmethod
    def request_body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """Return the JSON body for ``request``."""

    @abstractmethod
    def decode_result(self, raw: bytes) -> ChatResult:
        """Decode a 200 body (raises ``msgspec`` errors when it is malformed)."""

    @abstractmethod
    def parse_line(self, line: str, state: StreamState) -> str | None:
        """Read one stream line into ``state``; return the text it carried."""

    async def complete(self, request: ChatRequest) -> ChatResult:
        """Return the whole answer (see :class:`~neuralbridge.llm.LLMClient`)."""
        body = self._encode(request, stream=False)
        record = CallRecord(self.provider, self.model, stream=False)
        try:
            result: ChatResult = await retrying(self._settings, self._log_retry)(
                self._attempt_complete, body
            )
        except (LLMError, LLMUnavailable) as exc:
            error = self._final(exc)
            record.failed(error)
            raise error from None
        record.succeeded(result)
        return result

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield deltas then one ``Done`` (see :class:`~neuralbridge.llm.LLMClient`)."""
        body = self._encode(request, stream=True)
        record = CallRecord(self.provider, self.model, stream=True)
        try:
            opened: tuple[aiohttp.ClientResponse, StreamState] = await retrying(
                self._settings, self._log_retry
            )(self._attempt_open, body)
        except (LLMError, LLMUnavailable) as exc:
            error = self._final(exc)
            record.failed(error)
            raise error from None
        response, state = opened
        try:
            text = state.parts[-1] if state.parts else None
            while text is not None:
                record.first_token()
                yield Delta(text=text)
                text = await self._next_text(response, state)
        except LLMStreamBroken as exc:
            count_attempt(self.provider, exc)
            record.failed(exc)
            raise
        finally:
            response.close()
        result = state.result(provider=self.provider, model=self.model)
        record.succeeded(result)
        yield Done(result=result)

    async def _attempt_complete(self, body: bytes) -> ChatResult:
        try:
            return await self._complete_once(body)
        except (LLMError, LLMUnavailable) as exc:
            count_attempt(self.provider, exc)
            raise

    async def _attempt_open(self, body: bytes) -> tuple[aiohttp.ClientResponse, StreamState]:
        try:
            return await self._open_stream(body)
        except (LLMError, LLMUnavailable) as exc:
            count_attempt(self.provider, exc)
            raise

    async def _complete_once(self, body: bytes) -> ChatResult:
        response = await self._send(body)
        try:
            raw = await response.read()
        except TimeoutError:
            raise self._timed_out() from None
        except aiohttp.ClientError as exc:
            raise self._connection_failed(exc) from None
        finally:
            response.release()
        try:
            return self.decode_result(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise LLMResponseError(
                self._redact(f"{self.provider}: malformed response: {exc}")
            ) from None

    async def _open_stream(self, body: bytes) -> tuple[aiohttp.ClientResponse, StreamState]:
        """Send the request and read up to the first text delta (or a complete empty answer)."""
        limit = self._settings.first_token_timeout
        try:
            async with asyncio.timeout(limit):
                response = await self._send(body)
                state = StreamState()
                try:
                    await self._next_text(response, state)
                except BaseException:
                    response.close()
                    raise
        except TimeoutError:
            raise LLMUnavailable(
                f"{self.provider}: no first token within {limit:g}s", error_type="timeout"
            ) from None
        except LLMStreamBroken as exc:
            raise LLMUnavailable(str(exc), error_type="stream_broken") from None
        return response, state

    async def _next_text(self, response: aiohttp.ClientResponse, state: StreamState) -> str | None:
        try:
            return await next_text(response, state, self.parse_line, self.provider)
        except LLMStreamBroken as exc:
            raise LLMStreamBroken(self._redact(str(exc)), received=len(state.parts)) from None

    async def _send(self, body: bytes) -> aiohttp.ClientResponse:
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

    def _encode(self, request: ChatRequest, *, stream: bool) -> bytes:
        if not request.messages:
            raise LLMError(f"{self.provider}: a chat request needs at least one message")
        return msgspec.json.encode(self.request_body(request, stream=stream))

    def _http_error(
        self, status: int, headers: Mapping[str, str], raw: bytes
    ) -> LLMError | LLMUnavailable:
        text = self._redact(f"{self.provider}: HTTP {status}: {_provider_message(raw)}")
        if status == 429:
            return LLMUnavailable(
                text, delay=retry_hint(headers), error_type="rate_limited", status=status
            )
        if status == 408 or status >= 500:
            error_type = "timeout" if status in (408, 504) else "server_error"
            return LLMUnavailable(
                text, delay=retry_hint(headers), error_type=error_type, status=status
            )
        return LLMError(text, status=status)

    def _timed_out(self) -> LLMUnavailable:
        return LLMUnavailable(
            f"{self.provider}: no answer within {self._settings.timeout:g}s", error_type="timeout"
        )

    def _connection_failed(self, exc: aiohttp.ClientError) -> LLMUnavailable:
        return LLMUnavailable(
            self._redact(f"{self.provider}: connection failed: {type(exc).__name__}: {exc}"),
            error_type="connection",
        )

    def _final(self, exc: LLMError | LLMUnavailable) -> LLMError | LLMUnavailable:
        if not isinstance(exc, LLMUnavailable):
            return exc
        attempts = self._settings.max_retries + 1
        return LLMUnavailable(
            f"{exc} (gave up after {attempts} attempts)",
            delay=exc.delay,
            error_type=exc.error_type,
            status=exc.status,
        )

    def _redact(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, _MASK)
        return scrub(text)[:_MAX_MESSAGE]

    def _base_url(self, profile: LLMProfile) -> str:
        base = (profile.base_url or self.default_base_url).rstrip("/")
        url = URL(base)
        if url.scheme not in ("http", "https") or not url.host:
            raise LLMConfigError(f"{profile.provider}: base_url must be an http(s) URL")
        return base

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "llm_request_retry",
            provider=self.provider,
            model=self.model,
            attempt=state.attempt_number,
            wait_s=round(state.upcoming_sleep, 3),
            error_type=getattr(error, "error_type", None),
            error=str(error),
        )
