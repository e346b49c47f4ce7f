"""The chat request: instructions, ``[source N]`` passages, recent turns, the question.

The passages follow the convention of :mod:`neuralbridge.llm.passages`, so the
offline extractive provider can answer from them and real models cite them the
same way. History comes before the question as alternating user/assistant
turns (already redacted when they were stored).
"""

from __future__ import annotations

from collections.abc import Sequence

from neuralbridge.llm import ChatMessage, ChatRequest, format_passage
from neuralbridge.messages.proxy import SourceRef

__all__ = ["build_request"]

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
