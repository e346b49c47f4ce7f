"""OpenAI's chat-completions wire format, as the gateway speaks it.

Mapping onto the pipeline (documented for API users):

* the **last user message** is the query; the user and assistant messages
  before it are the conversation's history, as the client holds it (the
  pipeline screens them like the query: sanitised, checked for prompt
  injection, PII redacted, only the last ``SESSION_MAX_TURNS`` turns kept).
  The pipeline neither reads nor writes its own session history for these
  requests, so two clients whose conversations start alike never share one.
  System, developer and tool messages are ignored (the pipeline owns its
  prompt). The session id, used for per-session rate limits and query logs,
  is ``user`` when given, else derived from the first user message.
* ``model``: ``neuralbridge`` (the configured default), a provider name
  (``openai``, ``ollama``, ``extractive``), ``<provider>/<model>``, or any
  other name (a model override for the default provider).
* ``usage`` counts whitespace-separated words, not tokenizer tokens: the
  pipeline does not report token counts.
* each completion carries a non-standard ``neuralbridge`` object (request id,
  provider, cached, confidence, fallback, sources); the SDK exposes it as an
  extra field.
"""

from __future__ import annotations

import hashlib
import time
from typing import Annotated, Literal

import msgspec

from neuralbridge.gateway.errors import InvalidRequestError
from neuralbridge.gateway.proxy_client import Ask
from neuralbridge.gateway.queries import Source
from neuralbridge.messages.proxy import HistoryMessage, ProxyAnswer

__all__ = [
    "MODELS",
    "AssistantMessage",
    "ChatCompletion",
    "ChatMessage",
    "ChatRequest",
    "Choice",
    "Extras",
    "Model",
    "ModelList",
    "TextPart",
    "Usage",
    "completion",
    "extras",
    "usage",
]

#: The model ids ``GET /v1/models`` lists.
MODELS = ("neuralbridge", "openai", "ollama", "extractive")
_PROVIDERS = frozenset(MODELS[1:])


class TextPart(msgspec.Struct, frozen=True, kw_only=True):
    """A content part; only text parts carry a query."""

    type: str
    text: str | None = None


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One message of the conversation."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class StreamOptions(msgspec.Struct, frozen=True, kw_only=True):
    """``stream_options``: only ``include_usage`` is honoured."""

    include_usage: bool = False


class ChatRequest(msgspec.Struct, frozen=True, kw_only=True):
    """``POST /v1/chat/completions``; sampling fields other than ``temperature`` are ignored."""

    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    messages: Annotated[list[ChatMessage], msgspec.Meta(min_length=1)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    user: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None

    def to_ask(self) -> Ask:
        """The pipeline question (see the module docstring).

        Raises:
            InvalidRequestError: no user message with text.
        """
        said = [
            HistoryMessage(role=m.role, content=text)
            for m in self.messages
            if m.role in ("user", "assistant") and (text := m.text()).strip()
        ]
        last = max((i for i, m in enumerate(said) if m.role == "user"), default=None)
        if last is None:
            raise InvalidRequestError("messages: at least one user message with text is required",
                                 param="messages")  # fmt: skip
        provider, model = _split_model(self.model)
        first = next(m.content for m in said if m.role == "user")
        return Ask(
            query=said[last].content, session_id=self.user or _session_of(first),
            provider=provider, model=model, temperature=self.temperature, stream=self.stream,
            history=said[:last],
        )  # fmt: skip


class AssistantMessage(msgspec.Struct, frozen=True, kw_only=True):
    """The answer's message."""

    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


class Choice(msgspec.Struct, frozen=True, kw_only=True):
    """The only choice (``n`` > 1 is not supported)."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    """Word counts (see the module docstring)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Extras(msgspec.Struct, frozen=True, kw_only=True):
    """NeuralBridge's own facts about the answer."""

    request_id: str
    provider: str
    cached: bool
    confidence: float
    fallback_used: bool
    fallback_reason: str | None
    sources: list[Source]


class ChatCompletion(msgspec.Struct, frozen=True, kw_only=True):
    """OpenAI's ``chat.completion`` object."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    system_fingerprint: None = None
    neuralbridge: Extras


class Model(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of ``GET /v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "neuralbridge"


class ModelList(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[Model]


def completion(answer: ProxyAnswer, query: str) -> ChatCompletion:
    """The ``chat.completion`` for a final answer."""
    return ChatCompletion(
        id=f"chatcmpl-{answer.request_id}",
        created=int(time.time()),
        model=answer.model,
        choices=[Choice(message=AssistantMessage(content=answer.answer))],
        usage=usage(query, answer.answer),
        neuralbridge=extras(answer),
    )


def usage(query: str, answer: str) -> Usage:
    """Word counts of the query and the answer."""
    prompt, done = len(query.split()), len(answer.split())
    return Usage(prompt_tokens=prompt, completion_tokens=done, total_tokens=prompt + done)


def extras(answer: ProxyAnswer) -> Extras:
    """The ``neuralbridge`` object of a completion."""
    return Extras(
        request_id=answer.request_id, provider=answer.provider, cached=answer.cached,
        confidence=answer.confidence, fallback_used=answer.fallback_used,
        fallback_reason=answer.fallback_reason,
        sources=[Source(document=s.document, chunk_index=s.chunk_index, score=s.score,
                        text=s.text) for s in answer.sources],
    )  # fmt: skip


def _split_model(
    name: str,
) -> tuple[Literal["openai", "ollama", "extractive"] | None, str | None]:
    provider, _, model = name.partition("/")
    if provider not in _PROVIDERS:
        return None, None if name == "neuralbridge" else name
    chosen: Literal["openai", "ollama", "extractive"] = provider  # type: ignore[assignment]
    return chosen, model or None


def _session_of(first_user_message: str) -> str:
    digest = hashlib.sha256(first_user_message.encode()).hexdigest()[:24]
    return f"openai-{digest}"
