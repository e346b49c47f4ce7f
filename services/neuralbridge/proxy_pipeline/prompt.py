"""The chat request: instructions, ``[source N]`` passages, recent turns, the question.

The passages follow the convention of :mod:`neuralbridge.llm.passages`, so the
offline extractive provider can answer from them and real models cite them the
same way. History comes before the question as alternating user/assistant
turns (already redacted when they were stored). :class:`Prompt` is what one
request asks the LLM, beside its redacted form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from neuralbridge.llm import ChatMessage, ChatRequest, format_passage
from neuralbridge.messages.proxy import SourceRef

__all__ = ["Prompt", "build_request"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    """What the LLM is asked (``question``, ``history``) and its redacted form.

    They differ only when the operator keeps PII in prompts
    (``PII_REDACT_LLM_INPUT=false``) and the texts held some: such an answer is
    neither looked up in nor added to the cache, whose keys and entries are
    shared by every caller and hold redacted text only. Retrieval always
    searches with the redacted question.
    """

    redacted: str
    question: str
    history: list[ChatMessage]
    redacted_history: list[ChatMessage]

    @property
    def cacheable(self) -> bool:
        """Whether the prompt is its redacted form (no unredacted PII in it)."""
        return self.question == self.redacted and self.history == self.redacted_history


_WITH_SOURCES = (
    "You are a helpful assistant. Answer the question using the passages below and cite "
    "them as [source N]. If they do not contain the answer, say so."
)
_WITHOUT_SOURCES = "You are a helpful assistant. Answer the question concisely."


def build_request(
    question: str,
    sources: Sequence[SourceRef],
    history: Sequence[ChatMessage],
    *,
    temperature: float | None,
) -> ChatRequest:
    """Assemble the prompt for one question."""
    if sources:
        passages = "\n".join(format_passage(i, s.text) for i, s in enumerate(sources, start=1))
        system = f"{_WITH_SOURCES}\n\n{passages}"
    else:
        system = _WITHOUT_SOURCES
    messages = [ChatMessage(role="system", content=system), *history]
    messages.append(ChatMessage(role="user", content=f"Question: {question}"))
    return ChatRequest(messages=messages, temperature=temperature)
