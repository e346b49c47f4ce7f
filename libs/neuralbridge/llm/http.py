"""The HTTP machinery the OpenAI and Ollama chat clients share.

:class:`HttpChatClient` owns one call's life: POST with timeouts, classify the
answer, retry transient failures with ``tenacity`` (by exception type) until a
complete answer or a stream's first token, then read the stream without ever
retrying, record metrics and log one canonical line. Sending, classifying,
retrying and redacting come from
:class:`~neuralbridge.core.providers.http.ProviderHTTP`; provider modules only
say what the request body looks like and how to read answers and stream lines.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, Self

import aiohttp
import msgspec
from yarl import URL

from neuralbridge.core.providers.credentials import resolve_credential
from neuralbridge.core.providers.http import ProviderHTTP, checked_base_url
from neuralbridge.llm.chat import ChatRequest, ChatResult, Delta, Done, StreamEvent
from neuralbridge.llm.errors import (
    LLMConfigError,
    LLMError,
    LLMResponseError,
    LLMStreamBroken,
    LLMUnavailable,
)
from neuralbridge.llm.outcome import CallRecord, count_attempt
from neuralbridge.llm.profile import LLMProfile, LLMSettings
from neuralbridge.llm.streaming import StreamState, next_text

__all__ = ["HttpChatClient"]


class HttpChatClient(ProviderHTTP[LLMError, LLMUnavailable], ABC):
    """Base of the chat clients that call a provider's HTTP API.

    Args:
        profile: The model and provider to call.
        session: The process's HTTP session (not owned, never closed here).
        settings: Timeouts and retries.
        api_key: The key to send as a bearer token, if any.
    """

    retry_event = "llm_request_retry"
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
        self.profile = profile
        self.base_url = checked_base_url(
            profile.provider, profile.base_url or self.default_base_url, error=LLMConfigError
        )
        super().__init__(
            provider=profile.provider,
            model=profile.model,
            url=URL(self.base_url + self.path),
            session=session,
            settings=settings,
            api_key=api_key,
            rejected=LLMError,
            unavailable=LLMUnavailable,
            timeout=aiohttp.ClientTimeout(
                total=settings.timeout, sock_connect=settings.connect_timeout
            ),
        )
        self._settings: LLMSettings = settings

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
        key = resolve_credential(
            env,
            profile.credential,
            default=cls.default_credential(profile),
            required=True,
            what=f"{profile.provider} LLM",
            error=LLMConfigError,
        )
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
            result: ChatResult = await self._retrying()(self._attempt_complete, body)
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
            opened: tuple[aiohttp.ClientResponse, StreamState] = await self._retrying()(
                self._attempt_open, body
            )
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
        raw = await self._fetch(body)
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

    def _encode(self, request: ChatRequest, *, stream: bool) -> bytes:
        if not request.messages:
            raise LLMError(f"{self.provider}: a chat request needs at least one message")
        return msgspec.json.encode(self.request_body(request, stream=stream))

    def _final(self, exc: LLMError | LLMUnavailable) -> LLMError | LLMUnavailable:
        return self._gave_up(exc) if isinstance(exc, LLMUnavailable) else exc
