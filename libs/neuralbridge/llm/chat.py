"""What goes into a chat completion and what comes out, as messages-safe structs.

Every struct is a frozen, kw-only ``msgspec.Struct``, so requests, results and
stream events can cross a NATS subject unchanged. :data:`StreamEvent` is a
tagged union (``{"type": "delta", ...}`` / ``{"type": "done", ...}``) that a
consumer dispatches with ``match``::

    async for event in client.stream(request):
        match event:
            case Delta(text=text):
                send(text)
            case Done(result=result):
                record(result)
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

__all__ = ["ChatMessage", "ChatRequest", "ChatResult", "Delta", "Done", "Role", "StreamEvent"]

Role = Literal["system", "user", "assistant"]


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One turn of a conversation.

    Attributes:
        role: ``system`` (instructions, retrieved passages), ``user`` or ``assistant``.
        content: The text of the turn.
    """

    role: Role
    content: str


class ChatRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One completion to produce.

    Attributes:
        messages: The conversation, oldest first.
        temperature: Overrides the profile's temperature for this request.
        max_tokens: Overrides the profile's completion-token limit for this request.
        stop: Sequences at which the provider stops generating.
    """

    messages: Annotated[list[ChatMessage], msgspec.Meta(min_length=1)]
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    max_tokens: Annotated[int, msgspec.Meta(gt=0)] | None = None
    stop: list[str] | None = None


class ChatResult(msgspec.Struct, frozen=True, kw_only=True):
    """A finished completion.

    Attributes:
        text: The assistant's answer.
        model: The model as the provider reported it (may be a dated snapshot).
        finish_reason: Why generation stopped (``stop``, ``length``, ...), if reported.
        prompt_tokens: Tokens the provider counted in the prompt, if reported.
        completion_tokens: Tokens the provider counted in the answer, if reported.
        provider: The provider name of the profile (``openai``, ``ollama``, ``extractive``).
    """

    text: str
    model: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    provider: str


class Delta(msgspec.Struct, frozen=True, kw_only=True, tag="delta"):
    """A piece of the answer, in order; concatenating every ``text`` gives the answer."""

    text: str


class Done(msgspec.Struct, frozen=True, kw_only=True, tag="done"):
    """The last event of a successful stream, carrying the whole result."""

    result: ChatResult


StreamEvent = Delta | Done
