"""Fake LLM providers: local aiohttp servers speaking the real chat wire formats.

One :class:`FakeLLMServer` per test, on 127.0.0.1 port 0, in one of two dialects:

* ``openai`` — ``POST /v1/chat/completions``: a ``chat.completion`` JSON object, or
  server-sent events (``data: {chat.completion.chunk}`` ... ``data: [DONE]``) with
  a role chunk, content deltas, a ``finish_reason`` chunk and, when asked with
  ``stream_options.include_usage``, a usage chunk with empty ``choices``. Errors
  are ``{"error": {"message", "type", "param", "code"}}``; unknown request fields,
  ``max_tokens`` on reasoning models and out-of-range temperatures are rejected
  the way the real API rejects them.
* ``ollama`` — ``POST /api/chat``: one JSON object, or NDJSON lines ending with a
  ``done: true`` line; streaming is the default when ``stream`` is absent, like
  the real server. Errors are ``{"error": "..."}``; unknown models answer 404.

The answer is ``answer`` (or the last user message when ``echo=True``), sent as
word tokens (:func:`fake_tokens`), truncated to the request's token limit with
finish reason ``length``. Scripting comes from
:class:`~tests.support.fake_http.FakeProviderServer` (:meth:`fail_next`, status
+ headers, e.g. 429 + ``Retry-After``; :meth:`hang_next`, no headers for N
seconds; ``latency``; the bearer-key check; every request recorded), plus
:meth:`stall_next` (headers and role chunk, then silence before the first token),
:meth:`cut_next` (close the connection abruptly after K tokens),
:meth:`malform_next` (a malformed chunk after K tokens, or a malformed JSON
answer) and ``token_latency``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from tests.support import fake_http
from tests.support.chat_wire import ChatReply, RejectionError, fake_tokens, validate_openai
from tests.support.fake_http import RecordedRequest

__all__ = ["Dialect", "FakeLLMServer", "RecordedRequest", "fake_tokens"]

Dialect = Literal["openai", "ollama"]

_ROUTES: dict[Dialect, str] = {"openai": "/v1/chat/completions", "ollama": "/api/chat"}
_ROLES = {"system", "user", "assistant", "developer", "tool"}
_MALFORMED_ANSWER = {"id": "chatcmpl-broken", "object": "chat.completion", "unexpected": True}
_MALFORMED_LINE: dict[Dialect, bytes] = {
    "openai": b'data: {"id": "chatcmpl-broken", "choi\n\n',
    "ollama": b'{"model": "broken", "mess\n',
}


@dataclass
class _Fault(fake_http.Fault):
    stall: float = 0.0
    cut_after: int | None = None
    malform_after: int | None = None


class FakeLLMServer(fake_http.FakeProviderServer[_Fault]):
    """A scriptable fake of one provider's chat API.

    Args:
        dialect: Which provider to imitate.
        answer: The assistant's answer text.
        echo: Answer with the last user message instead of ``answer``.
        api_key: When set, requests must carry ``Authorization: Bearer <api_key>``.
        models: When set (Ollama), only these models exist; others answer 404.
        reported_model: The model named in answers (the request's model by default).
        latency: Seconds before every answer starts.
        token_latency: Seconds between streamed tokens.
    """

    def __init__(
        self,
        dialect: Dialect,
        *,
        answer: str = "Paris is the capital of France.",
        echo: bool = False,
        api_key: str | None = None,
        models: set[str] | None = None,
        reported_model: str | None = None,
        latency: float = 0.0,
        token_latency: float = 0.0,
    ) -> None:
        super().__init__(_Fault, api_key=api_key, latency=latency)
        self.dialect: Dialect = dialect
        self.answer = answer
        self.echo = echo
        self.models = models
        self.reported_model = reported_model
        self.token_latency = token_latency

    @property
    def base_url(self) -> str:
        """The URL to put in the profile's ``base_url``."""
        return self.root_url + "/v1" if self.dialect == "openai" else self.root_url

    def stall_next(self, count: int = 1, *, seconds: float = 30.0) -> None:
        """Send headers (and OpenAI's role chunk), then wait ``seconds`` before any token."""
        for _ in range(count):
            self._script(stall=seconds)

    def cut_next(self, *, after_tokens: int) -> None:
        """Close the next stream's connection abruptly after ``after_tokens`` tokens."""
        self._script(cut_after=after_tokens)

    def malform_next(self, *, after_tokens: int = 0) -> None:
        """Send a malformed chunk after ``after_tokens`` tokens (non-streaming: a bad body)."""
        self._script(malform_after=after_tokens)

    def routes(self) -> tuple[str, ...]:
        """The dialect's chat route."""
        return (_ROUTES[self.dialect],)

    def error_response(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        """An error in the dialect's body shape."""
        return self._error(status, message, None, headers)

    def default_message(self, status: int) -> str:
        """The provider's text for a scripted failure."""
        if status == 429:
            return "Rate limit reached for requests. Please try again later."
        if status >= 500:
            return "The server had an error while processing your request. Sorry about that!"
        return "Invalid request."

    def unauthorized_message(self, request: web.Request) -> str:
        """The provider's text for a wrong key (OpenAI shows a masked copy of it)."""
        if self.dialect == "ollama":
            return "unauthorized"
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        shown = f"{sent[:3]}***{sent[-4:]}" if len(sent) > 8 else "***"
        return (
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )

    async def serve(self, request: web.Request, body: Any, fault: _Fault) -> web.StreamResponse:
        """Validate the request; answer in one JSON body or as a stream."""
        try:
            stream, limit = self._validate(body)
        except RejectionError as exc:
            return self._error(exc.status, exc.message, exc.param)
        tokens = fake_tokens(self._answer_text(body))
        finish = "stop"
        if limit is not None and len(tokens) > limit:
            tokens, finish = tokens[:limit], "length"
        reply = ChatReply(body, tokens, finish, self.reported_model or str(body["model"]))
        if not stream:
            if fault.malform_after is not None:
                return web.json_response(_MALFORMED_ANSWER)
            openai = self.dialect == "openai"
            return web.json_response(reply.openai_json() if openai else reply.ollama_json())
        return await self._stream(request, reply, fault)

    def _answer_text(self, body: dict[str, Any]) -> str:
        if not self.echo:
            return self.answer
        users = [m.get("content", "") for m in body["messages"] if m.get("role") == "user"]
        return str(users[-1]) if users else ""

    def _validate(self, body: Any) -> tuple[bool, int | None]:
        if not isinstance(body, dict):
            raise RejectionError(400, "We could not parse the JSON body of your request.")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise RejectionError(400, "you must provide a model parameter", "model")
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(
                isinstance(m, dict)
                and m.get("role") in _ROLES
                and isinstance(m.get("content"), str)
                for m in messages
            )
        ):
            raise RejectionError(400, "Invalid value for 'messages'.", "messages")
        if self.dialect == "openai":
            return validate_openai(body)
        if self.models is not None and body["model"] not in self.models:
            raise RejectionError(404, f'model "{body["model"]}" not found, try pulling it first')
        options = body.get("options") or {}
        return bool(body.get("stream", True)), options.get("num_predict")

    async def _stream(
        self, request: web.Request, reply: ChatReply, fault: _Fault
    ) -> web.StreamResponse:
        openai = self.dialect == "openai"
        content_type = "text/event-stream" if openai else "application/x-ndjson"
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        if openai:
            await response.write(
                reply.sse(reply.openai_chunk({"role": "assistant", "content": ""}))
            )
        if fault.stall:
            await self._wait(fault.stall)
        for index, token in enumerate(reply.tokens):
            if index == fault.cut_after:
                assert request.transport is not None
                request.transport.abort()
                return response
            if index == fault.malform_after:
                await response.write(_MALFORMED_LINE[self.dialect])
                return response
            if self.token_latency:
                await asyncio.sleep(self.token_latency)
            await response.write(reply.stream_line(token, openai))
        for line in reply.stream_tail(openai):
            await response.write(line)
        await response.write_eof()
        return response

    def _error(
        self, status: int, message: str, param: str | None, headers: dict[str, str] | None = None
    ) -> web.Response:
        if self.dialect == "ollama":
            return web.json_response({"error": message}, status=status, headers=headers)
        kind = "server_error" if status >= 500 else "invalid_request_error"
        kind = "requests" if status == 429 else kind
        code = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status)
        error = {"message": message, "type": kind, "param": param, "code": code}
        return web.json_response({"error": error}, status=status, headers=headers)
