"""Ollama chat (``POST {base}/api/chat``, default ``http://localhost:11434``).

Request ``{model, messages, stream, options?: {temperature?, num_predict?, stop?}}``;
``stream`` is always sent because Ollama streams when it is absent. Answers:
``{model, created_at, message: {role, content}, done: true, done_reason,
prompt_eval_count, eval_count, ...durations}``; streams are NDJSON, one object
per line with a ``message.content`` delta and ``done: false``, ending with a
``done: true`` object carrying ``done_reason`` and the counts. Errors:
``{"error": "..."}`` (``404`` for a model that was not pulled), also as a line
inside a stream. No API key by default; a profile ``credential`` adds a bearer
token for an Ollama behind an authenticating proxy.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from neuralbridge.llm.chat import ChatRequest, ChatResult
from neuralbridge.llm.errors import LLMStreamBroken
from neuralbridge.llm.http import HttpChatClient
from neuralbridge.llm.streaming import StreamState

__all__ = ["OLLAMA_BASE_URL", "OllamaChatClient"]

OLLAMA_BASE_URL = "http://localhost:11434"


class _Message(msgspec.Struct):
    content: str = ""


class _Answer(msgspec.Struct):
    model: str | None = None
    message: _Message | None = None
    done: bool = False
    done_reason: str | None = None
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    error: str | None = None


_ANSWER = msgspec.json.Decoder(_Answer)


class OllamaChatClient(HttpChatClient):
    """Any chat model pulled into an Ollama server (``llama3.2``, ``mistral``, ``qwen2.5``...)."""

    default_base_url: ClassVar[str] = OLLAMA_BASE_URL
    path: ClassVar[str] = "/api/chat"

    def request_body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """Build ``{model, messages, stream, options?}``; request overrides win over the profile."""
        body: dict[str, Any] = {"model": self.model, "messages": request.messages}
        body["stream"] = stream
        temperature, max_tokens = self.profile.sampling_for(request)
        options: dict[str, Any] = {}
        if temperature is not None:
            options["temperature"] = temperature
        if max_tokens is not None:
            options["num_predict"] = max_tokens
        if request.stop:
            options["stop"] = request.stop
        if options:
            body["options"] = options
        return body

    def decode_result(self, raw: bytes) -> ChatResult:
        """Read ``message.content``, ``done_reason``, ``model`` and the eval counts."""
        answer = _ANSWER.decode(raw)
        if answer.message is None or not answer.done:
            raise msgspec.ValidationError("expected a finished answer with a `message`")
        return self._result(answer, answer.message.content)

    def parse_line(self, line: str, state: StreamState) -> str | None:
        """Read one NDJSON object: a ``message.content`` delta, or the final ``done`` line."""
        if not line.strip():
            return None
        answer = _ANSWER.decode(line)
        if answer.error is not None:
            raise LLMStreamBroken(f"{self.provider}: error in stream: {answer.error}")
        state.model = answer.model or state.model
        if answer.done:
            state.finished = True
            state.finish_reason = answer.done_reason or "stop"
            state.prompt_tokens = answer.prompt_eval_count
            state.completion_tokens = answer.eval_count
        return answer.message.content if answer.message else None

    def _result(self, answer: _Answer, text: str) -> ChatResult:
        return ChatResult(
            text=text,
            model=answer.model or self.model,
            finish_reason=answer.done_reason or "stop",
            prompt_tokens=answer.prompt_eval_count,
            completion_tokens=answer.eval_count,
            provider=self.provider,
        )
