"""The prompt convention the extractive provider reads: numbered passages and a question.

The pipeline puts retrieved passages in a system or user message, each opened
by a line that starts with ``[source N]``::

    Answer from these passages only.
    [source 1] Acme was founded in 1990 by Jane Doe. It makes rockets.
    [source 2] The Acme headquarters are in Lisbon.

    Question: Who founded Acme?

A passage is the text after its marker up to the next ``[source …]`` line, a
blank line or the end of the message (so multi-paragraph chunks are joined with
single newlines). The question is the LAST user message without its passages: from its last line
labelled ``Question:``/``Pergunta:`` on (label dropped) when there is one, else
all of its remaining lines.
LLM providers read the same prompt as plain text and cite ``[source N]`` too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from neuralbridge.llm.chat import ChatMessage

__all__ = ["Passage", "format_passage", "read_prompt"]

_MARKER = re.compile(r"^\s*\[source\s+(\d+)\]\s*(.*)$", re.IGNORECASE)
_LABEL = re.compile(r"^\s*(question|pergunta)\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrieved passage.

    Attributes:
        source: The number after ``[source``, to cite.
        text: The passage text.
    """

    source: int
    text: str


def format_passage(source: int, text: str) -> str:
    """Render a passage in the convention (blank lines inside ``text`` are collapsed)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return f"[source {source}] " + "\n".join(lines)


def read_prompt(messages: Sequence[ChatMessage]) -> tuple[list[Passage], str]:
    """Return the passages of every system/user message and the question."""
    passages: list[Passage] = []
    question = ""
    for message in messages:
        if message.role == "assistant":
            continue
        found, rest = _scan(message.content)
        passages.extend(found)
        if message.role == "user":
            question = _question(rest)
    return passages, question


def _question(lines: list[str]) -> str:
    """The text from the last ``Question:`` label on, or every line when there is none."""
    kept = [line.strip() for line in lines if line.strip()]
    labelled = [i for i, line in enumerate(kept) if _LABEL.match(line)]
    if labelled:
        kept = kept[labelled[-1] :]
    return " ".join(_LABEL.sub("", line, count=1) for line in kept)


def _scan(content: str) -> tuple[list[Passage], list[str]]:
    """Split one message into its passages and its other lines."""
    passages: list[Passage] = []
    rest: list[str] = []
    current: tuple[int, list[str]] | None = None
    for line in content.splitlines():
        marker = _MARKER.match(line)
        if marker:
            _close(current, passages)
            current = (int(marker.group(1)), [marker.group(2)])
        elif current is not None and line.strip():
            current[1].append(line)
        else:
            _close(current, passages)
            current = None
            rest.append(line)
    _close(current, passages)
    return passages, rest


def _close(current: tuple[int, list[str]] | None, passages: list[Passage]) -> None:
    if current is not None and (text := "\n".join(current[1]).strip()):
        passages.append(Passage(current[0], text))
