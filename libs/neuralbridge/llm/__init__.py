"""Chat-completion clients used by the proxy pipeline.

One :class:`LLMClient` interface over OpenAI (and every server speaking its chat
API: vLLM, llama.cpp server, LM Studio), Ollama, and an offline ``extractive``
provider that quotes the retrieved passages. Build clients with
:func:`create_llm` from an :class:`LLMProfile` (which travels in messages and
names, never holds, its API key) and one process-wide :class:`LLMSettings`::

    settings = load_settings(LLMSettings, env)
    llm = create_llm(profile_from_env(env), session=session, settings=settings, env=env)
    result = await llm.complete(ChatRequest(messages=[ChatMessage(role="user", content=q)]))
    async for event in llm.stream(request):   # Delta..., then exactly one Done
        ...

Clients retry 429/5xx/timeouts/connection errors (honouring ``Retry-After`` and
rate-limit resets) until an answer or a stream's first token, never after; a
stream that breaks later raises :class:`LLMStreamBroken`. Errors are drawn in
:mod:`neuralbridge.llm.errors`; metrics live in :mod:`neuralbridge.llm.metrics`.
"""

from neuralbridge.llm.chat import ChatMessage, ChatRequest, ChatResult, Delta, Done, StreamEvent
from neuralbridge.llm.errors import (
    LLMConfigError,
    LLMError,
    LLMResponseError,
    LLMStreamBroken,
    LLMUnavailable,
)
from neuralbridge.llm.passages import Passage, format_passage, read_prompt
from neuralbridge.llm.profile import LLMProfile, LLMSettings, profile_from_env
from neuralbridge.llm.protocol import LLMClient
from neuralbridge.llm.registry import create_llm

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "ChatResult",
    "Delta",
    "Done",
    "LLMClient",
    "LLMConfigError",
    "LLMError",
    "LLMProfile",
    "LLMResponseError",
    "LLMSettings",
    "LLMStreamBroken",
    "LLMUnavailable",
    "Passage",
    "StreamEvent",
    "create_llm",
    "format_passage",
    "profile_from_env",
    "read_prompt",
]
