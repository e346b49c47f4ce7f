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
finish reason ``length``. Scripting: :meth:`fail_next` (status + headers, e.g.
429 + ``Retry-After``), :meth:`hang_next` (no headers for N seconds),
:meth:`stall_next` (headers and role chunk, then silence before the first token),
:meth:`cut_next` (close the connection abruptly after K tokens),
:meth:`malform_next` (a malformed chunk after K tokens, or a malformed JSON
answer), ``latency`` and ``token_latency``. Every request is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

Dialect = Literal["openai", "ollama"]

_ROUTES: dict[Dialect, str] = {"openai": "/v1/chat/completions", "ollama": "/api/chat"}
_OPENAI_FIELDS = {
    "model", "messages", "stream", "stream_options", "temperature", "top_p", "n", "stop",
    "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty", "seed",
    "logit_bias", "logprobs", "top_logprobs", "user", "response_format", "tools",
    "tool_choice", "parallel_tool_calls", "service_tier", "store", "metadata",
    "reasoning_effort", "modalities", "prediction", "audio", "verbosity",
}  # fmt: skip
_ROLES = {"system", "user", "assistant", "developer", "tool"}
_REASONING = re.compile(r"^(o\d|gpt-5)")
_TOKEN = re.compile(r"\s*\S+|\s+")
_MALFORMED_ANSWER = {"id": "chatcmpl-broken", "object": "chat.completion", "unexpected": True}
_MALFORMED_LINE: dict[Dialect, bytes] = {
    "openai": b'data: {"id": "chatcmpl-broken", "choi\n\n',
    "ollama": b'{"model": "broken", "mess\n',
}


class _RejectionError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param


@dataclass
class RecordedRequest:
    """One request as the fake received it."""

    path: str
    headers: dict[str, str]
    body: Any
    at: float
    status: int = 0


@dataclass
class _Fault:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    hang: float = 0.0
    stall: float = 0.0
    cut_after: int | None = None
    malform_after: int | None = None


def fake_tokens(text: str) -> list[str]:
    """The tokens the fake streams for ``text``: words with their leading whitespace."""
    return _TOKEN.findall(text)


class FakeLLMServer:
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
        self.dialect: Dialect = dialect
        self.answer = answer
        self.echo = echo
        self.api_key = api_key
        self.models = models
        self.reported_model = reported_model
        self.latency = latency
        self.token_latency = token_latency
        self.requests: list[RecordedRequest] = []
        self._faults: deque[_Fault] = deque()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def base_url(self) -> str:
        """The URL to put in the profile's ``base_url``."""
        root = f"http://127.0.0.1:{self._port}"
        return root + "/v1" if self.dialect == "openai" else root

    async def start(self) -> FakeLLMServer:
        """Listen on a free port."""
        app = web.Application()
        app.router.add_post(_ROUTES[self.dialect], self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        """Stop listening; hanging answers are released first."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 429,
        headers: dict[str, str] | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests with ``status`` and the dialect's error body."""
        for _ in range(count):
            self._faults.append(_Fault(status=status, headers=dict(headers or {}), message=message))

    def hang_next(self, count: int = 1, *, seconds: float = 30.0) -> None:
        """Send nothing at all (not even headers) for ``seconds`` on the next ``count`` requests."""
        self._faults.extend(_Fault(hang=seconds) for _ in range(count))

    def stall_next(self, count: int = 1, *, seconds: float = 30.0) -> None:
        """Send headers (and OpenAI's role chunk), then wait ``seconds`` before any token."""
        self._faults.extend(_Fault(stall=seconds) for _ in range(count))

    def cut_next(self, *, after_tokens: int) -> None:
        """Close the next stream's connection abruptly after ``after_tokens`` tokens."""
        self._faults.append(_Fault(cut_after=after_tokens))

    def malform_next(self, *, after_tokens: int = 0) -> None:
        """Send a malformed chunk after ``after_tokens`` tokens (non-streaming: a bad body)."""
        self._faults.append(_Fault(malform_after=after_tokens))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        record = RecordedRequest(request.path, dict(request.headers), body, time.monotonic())
        self.requests.append(record)
        fault = self._faults.popleft() if self._faults else _Fault()
        response = await self._answer(request, body, fault)
        record.status = response.status
        return response

    async def _answer(self, request: web.Request, body: Any, fault: _Fault) -> web.StreamResponse:
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault.hang:
            await self._wait(fault.hang)
        if fault.status:
            message = fault.message or _default_message(fault.status)
            return self._error(fault.status, message, None, fault.headers)
        if self.api_key is not None and request.headers.get("Authorization") != (
            f"Bearer {self.api_key}"
        ):
            return self._error(401, _unauthorized_message(self.dialect, request), None)
        try:
            stream, limit = self._validate(body)
        except _RejectionError as exc:
            return self._error(exc.status, exc.message, exc.param)
        tokens = fake_tokens(self._answer_text(body))
        finish = "stop"
        if limit is not None and len(tokens) > limit:
            tokens, finish = tokens[:limit], "length"
        reply = _Reply(body, tokens, finish, self.reported_model or str(body["model"]))
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
            raise _RejectionError(400, "We could not parse the JSON body of your request.")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise _RejectionError(400, "you must provide a model parameter", "model")
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
            raise _RejectionError(400, "Invalid value for 'messages'.", "messages")
        if self.dialect == "openai":
            return _validate_openai(body)
        if self.models is not None and body["model"] not in self.models:
            raise _RejectionError(404, f'model "{body["model"]}" not found, try pulling it first')
        options = body.get("options") or {}
        return bool(body.get("stream", True)), options.get("num_predict")

    async def _stream(
        self, request: web.Request, reply: _Reply, fault: _Fault
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

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

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


class _Reply:
    """One answer rendered in each dialect's JSON, SSE and NDJSON shapes."""

    def __init__(self, body: dict[str, Any], tokens: list[str], finish: str, model: str) -> None:
        self.body = body
        self.tokens = tokens
        self.finish = finish
        self.model = model
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.prompt_tokens = sum(len(fake_tokens(m["content"])) for m in body["messages"])

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    def usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": len(self.tokens),
            "total_tokens": self.prompt_tokens + len(self.tokens),
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }

    def openai_json(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.text, "refusal": None}
        message["annotations"] = []
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish}
            ],
            "usage": self.usage(),
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }

    def ollama_json(self, *, content: str | None = None, done: bool = True) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "model": self.model,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
            "message": {"role": "assistant", "content": self.text if content is None else content},
            "done": done,
        }
        if done:
            answer |= {
                "done_reason": self.finish,
                "total_duration": 5_000_000,
                "load_duration": 1_000_000,
                "prompt_eval_count": self.prompt_tokens,
                "prompt_eval_duration": 1_000_000,
                "eval_count": len(self.tokens),
                "eval_duration": 3_000_000,
            }
        return answer

    def openai_chunk(
        self, delta: dict[str, Any], finish: str | None = None, *, choices: bool = True
    ) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            if choices
            else [],
        }
        if self._include_usage():
            chunk["usage"] = None
        return chunk

    def stream_line(self, token: str, openai: bool) -> bytes:
        if openai:
            return self.sse(self.openai_chunk({"content": token}))
        return self.ndjson(self.ollama_json(content=token, done=False))

    def stream_tail(self, openai: bool) -> list[bytes]:
        if not openai:
            return [self.ndjson(self.ollama_json(content=""))]
        lines = [self.sse(self.openai_chunk({}, self.finish))]
        if self._include_usage():
            usage_chunk = self.openai_chunk({}, choices=False) | {"usage": self.usage()}
            lines.append(self.sse(usage_chunk))
        lines.append(b"data: [DONE]\n\n")
        return lines

    def _include_usage(self) -> bool:
        options = self.body.get("stream_options") or {}
        return bool(options.get("include_usage"))

    @staticmethod
    def sse(data: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()

    @staticmethod
    def ndjson(data: dict[str, Any]) -> bytes:
        return (json.dumps(data, separators=(",", ":")) + "\n").encode()


def _validate_openai(body: dict[str, Any]) -> tuple[bool, int | None]:
    for name in body:
        if name not in _OPENAI_FIELDS:
            raise _RejectionError(400, f"Unrecognized request argument supplied: {name}")
    if "max_tokens" in body and _REASONING.match(body["model"]):
        raise _RejectionError(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "max_tokens",
        )
    temperature = body.get("temperature")
    if temperature is not None and not 0 <= temperature <= 2:
        message = f"Invalid 'temperature': expected a value in [0, 2], got {temperature}."
        raise _RejectionError(400, message, "temperature")
    stream = bool(body.get("stream", False))
    if body.get("stream_options") is not None and not stream:
        message = "The 'stream_options' parameter is only allowed when 'stream' is enabled."
        raise _RejectionError(400, message, "stream_options")
    return stream, body.get("max_completion_tokens", body.get("max_tokens"))


def _default_message(status: int) -> str:
    if status == 429:
        return "Rate limit reached for requests. Please try again later."
    if status >= 500:
        return "The server had an error while processing your request. Sorry about that!"
    return "Invalid request."


def _unauthorized_message(dialect: Dialect, request: web.Request) -> str:
    if dialect == "ollama":
        return "unauthorized"
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
    shown = f"{sent[:3]}***{sent[-4:]}" if len(sent) > 8 else "***"
    return (
        f"Incorrect API key provided: {shown}. You can find your API key at "
        "https://platform.openai.com/account/api-keys."
    )
