"""OpenAI chat completions (``POST {base}/chat/completions``) and servers speaking the same API.

Request ``{model, messages, stream, temperature?, max_completion_tokens | max_tokens?,
stop?, stream_options?}``. OpenAI deprecated ``max_tokens`` for chat completions
and its reasoning models reject it, so the public API (``api.openai.com``) gets
``max_completion_tokens``; any other base URL (vLLM, llama.cpp server, LM Studio,
LiteLLM...) gets ``max_tokens``, which every compatible server reads while some
older ones ignore the newer name. Streams ask for a usage chunk with
``stream_options: {include_usage: true}``.

Answers: ``{id, object: "chat.completion", model, choices: [{index, message:
{role, content}, finish_reason}], usage: {prompt_tokens, completion_tokens,
total_tokens}}``; streams are server-sent events ``data: {chat.completion.chunk}``
with ``choices[0].delta.content``, a chunk with ``finish_reason``, an optional
chunk with ``usage`` and empty ``choices``, then ``data: [DONE]``. Errors:
``{"error": {"message", "type", "param", "code"}}``, also inside a stream.

The key comes from ``OPENAI_API_KEY`` (or the variable named by ``credential``)
for the public API; for any other base URL a key is sent only when
``credential`` names one, so an OpenAI key never leaks to a third-party server.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from yarl import URL

from neuralbridge.core.providers.messages import provider_text
from neuralbridge.llm.chat import ChatRequest, ChatResult
from neuralbridge.llm.errors import LLMStreamBroken
from neuralbridge.llm.http import HttpChatClient
from neuralbridge.llm.profile import LLMProfile
from neuralbridge.llm.streaming import StreamState

__all__ = ["OPENAI_BASE_URL", "OpenAIChatClient"]

OPENAI_BASE_URL = "https://api.openai.com/v1"
_OPENAI_HOST = "api.openai.com"


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class _Message(msgspec.Struct):
    content: str | None = None
    refusal: str | None = None


class _Choice(msgspec.Struct):
    message: _Message
    finish_reason: str | None = None


class _Completion(msgspec.Struct):
    choices: list[_Choice]
    model: str | None = None
    usage: _Usage | None = None


class _Delta(msgspec.Struct):
    content: str | None = None


class _ChunkChoice(msgspec.Struct):
    delta: _Delta = msgspec.field(default_factory=_Delta)
    finish_reason: str | None = None


class _Chunk(msgspec.Struct):
    choices: list[_ChunkChoice] = []
    model: str | None = None
    usage: _Usage | None = None
    error: Any = None


_COMPLETION = msgspec.json.Decoder(_Completion)
_CHUNK = msgspec.json.Decoder(_Chunk)


class OpenAIChatClient(HttpChatClient):
    """GPT models at OpenAI, or any model behind an OpenAI-compatible ``/chat/completions``."""

    default_base_url: ClassVar[str] = OPENAI_BASE_URL
    path: ClassVar[str] = "/chat/completions"

    @classmethod
    def default_credential(cls, profile: LLMProfile) -> str | None:
        """``OPENAI_API_KEY`` for the public API; no key elsewhere unless the profile names one."""
        return "OPENAI_API_KEY" if _is_openai(profile.base_url) else None

    def request_body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """Build the chat-completions body; request overrides win over the profile."""
        body: dict[str, Any] = {"model": self.model, "messages": request.messages}
        temperature, max_tokens = self.profile.sampling_for(request)
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens is not None:
            limit = "max_completion_tokens" if _is_openai(self.base_url) else "max_tokens"
            body[limit] = max_tokens
        if request.stop:
            body["stop"] = request.stop
        body["stream"] = stream
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def decode_result(self, raw: bytes) -> ChatResult:
        """Read ``choices[0].message.content``, ``finish_reason``, ``model`` and ``usage``."""
        completion = _COMPLETION.decode(raw)
        if not completion.choices:
            raise msgspec.ValidationError("`choices` is empty")
        choice = completion.choices[0]
        usage = completion.usage or _Usage()
        return ChatResult(
            text=choice.message.content or choice.message.refusal or "",
            model=completion.model or self.model,
            finish_reason=choice.finish_reason,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            provider=self.provider,
        )

    def parse_line(self, line: str, state: StreamState) -> str | None:
        """Collect SSE ``data:`` lines; on the blank line ending an event, read its chunk."""
        if line.startswith(":"):
            return None
        if line:
            name, _, value = line.partition(":")
            if name == "data":
                state.pending.append(value.removeprefix(" "))
            return None
        data = "\n".join(state.pending)
        state.pending.clear()
        return self._read_event(data, state) if data else None

    def _read_event(self, data: str, state: StreamState) -> str | None:
        if data.strip() == "[DONE]":
            state.finished = True
            return None
        chunk = _CHUNK.decode(data)
        if chunk.error is not None:
            raise LLMStreamBroken(
                f"{self.provider}: error in stream: {provider_text(data.encode())}"
            )
        state.model = chunk.model or state.model
        if chunk.usage is not None:
            state.prompt_tokens = chunk.usage.prompt_tokens
            state.completion_tokens = chunk.usage.completion_tokens
        if not chunk.choices:
            return None
        choice = chunk.choices[0]
        state.finish_reason = choice.finish_reason or state.finish_reason
        return choice.delta.content


def _is_openai(base_url: str | None) -> bool:
    return base_url is None or URL(base_url).host == _OPENAI_HOST
