"""The chat wire formats the fake LLM server speaks: OpenAI JSON/SSE and Ollama JSON/NDJSON.

:class:`ChatReply` renders one answer in every shape (a whole ``chat.completion``,
SSE ``chat.completion.chunk`` events ending ``data: [DONE]``, Ollama objects and
NDJSON lines ending ``done: true``); :func:`validate_openai` rejects requests the
way the real OpenAI API does. Used by :mod:`tests.support.fake_llm`.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

__all__ = ["ChatReply", "RejectionError", "fake_tokens", "validate_openai"]

_OPENAI_FIELDS = {
    "model", "messages", "stream", "stream_options", "temperature", "top_p", "n", "stop",
    "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty", "seed",
    "logit_bias", "logprobs", "top_logprobs", "user", "response_format", "tools",
    "tool_choice", "parallel_tool_calls", "service_tier", "store", "metadata",
    "reasoning_effort", "modalities", "prediction", "audio", "verbosity",
}  # fmt: skip
_REASONING = re.compile(r"^(o\d|gpt-5)")
_TOKEN = re.compile(r"\s*\S+|\s+")


class RejectionError(Exception):
    """A request the provider refuses: status, message and the offending parameter."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param


def fake_tokens(text: str) -> list[str]:
    """The tokens the fake streams for ``text``: words with their leading whitespace."""
    return _TOKEN.findall(text)


class ChatReply:
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


def validate_openai(body: dict[str, Any]) -> tuple[bool, int | None]:
    """Check an OpenAI request; return ``(stream, token limit)``."""
    for name in body:
        if name not in _OPENAI_FIELDS:
            raise RejectionError(400, f"Unrecognized request argument supplied: {name}")
    if "max_tokens" in body and _REASONING.match(body["model"]):
        raise RejectionError(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "max_tokens",
        )
    temperature = body.get("temperature")
    if temperature is not None and not 0 <= temperature <= 2:
        message = f"Invalid 'temperature': expected a value in [0, 2], got {temperature}."
        raise RejectionError(400, message, "temperature")
    stream = bool(body.get("stream", False))
    if body.get("stream_options") is not None and not stream:
        message = "The 'stream_options' parameter is only allowed when 'stream' is enabled."
        raise RejectionError(400, message, "stream_options")
    return stream, body.get("max_completion_tokens", body.get("max_tokens"))
