"""The fine-tuning dataset: well-rated answers → validated chat JSONL, split train/validation.

Each example is one chat the way the proxy pipeline prompts the model
(``proxy_pipeline/prompt.py``; keep the two in step): a system message (the
instructions, plus the retrieved passages as ``[source N]`` lines when the
answer had any), the user's ``Question: ...`` and the assistant's answer.

The trainer's ``query_logs`` table does not keep the retrieved passages' text
(at most their ids, for the RAG training), so today every example uses the
no-passages system prompt: the model learns the answer without the context it
was given. :func:`build_examples` takes passage texts for the day they are kept
(or fetched back from Qdrant by id).

Validation, in order: PII is redacted again (:func:`neuralbridge.guardrails.redact`:
the proxy already redacts, but a detector may have improved since), an example
with an empty turn or a wrong role order is dropped, and duplicates (same
conversation after redaction, ignoring case and spacing) are dropped, keeping
the first. The split shuffles with a fixed seed, so a run is reproducible.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import msgspec

from neuralbridge.guardrails import redact
from neuralbridge.llm import ChatMessage, format_passage

__all__ = [
    "MIN_EXAMPLES",
    "SPLIT_SEED",
    "Dataset",
    "Example",
    "LoggedAnswer",
    "build_examples",
    "encode_jsonl",
    "role_order_error",
    "split_examples",
]

#: Fewer usable examples than this: the run is cancelled (OpenAI's own minimum too).
MIN_EXAMPLES = 10
#: The shuffle seed of the train/validation split.
SPLIT_SEED = 6

_WITH_SOURCES = (
    "You are a helpful assistant. Answer the question using the passages below and cite "
    "them as [source N]. If they do not contain the answer, say so."
)
_WITHOUT_SOURCES = "You are a helpful assistant. Answer the question concisely."
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class LoggedAnswer:
    """One well-rated answer from ``query_logs`` (``passages``: its retrieved context)."""

    request_id: str
    query: str
    answer: str
    passages: tuple[str, ...] = ()


class Example(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the JSONL file OpenAI reads: ``{"messages": [...]}``."""

    messages: list[ChatMessage]


@dataclass(frozen=True, slots=True)
class Dataset:
    """The usable examples (with their source rows) and what was dropped."""

    examples: tuple[tuple[str, Example], ...]
    selected: int
    duplicates: int
    invalid: int
    pii_redactions: int

    @property
    def request_ids(self) -> list[str]:
        """The query logs the usable examples came from."""
        return [rid for rid, _ in self.examples]


def _scrubbed(text: str) -> tuple[str, int]:
    result = redact(text)
    return result.text.strip(), len(result.findings)


def _format(row: LoggedAnswer) -> tuple[Example, int]:
    """The chat for one answer, PII redacted; also how many redactions it took."""
    found = 0
    system = _WITHOUT_SOURCES
    if row.passages:
        lines = []
        for number, passage in enumerate(row.passages, start=1):
            text, n = _scrubbed(passage)
            found += n
            lines.append(format_passage(number, text))
        system = f"{_WITH_SOURCES}\n\n" + "\n".join(lines)
    query, n_query = _scrubbed(row.query)
    answer, n_answer = _scrubbed(row.answer)
    messages = [
        ChatMessage(role="system", content=system),
        ChatMessage(role="user", content=f"Question: {query}" if query else ""),
        ChatMessage(role="assistant", content=answer),
    ]
    return Example(messages=messages), found + n_query + n_answer


def role_order_error(messages: Sequence[ChatMessage]) -> str | None:
    """Why ``messages`` is no valid training chat, or ``None``.

    Valid: an optional leading system message, then user and assistant turns
    alternating from a user turn and ending with an assistant turn, none empty.
    """
    turns = list(messages)
    if turns and turns[0].role == "system":
        turns = turns[1:]
    if not turns:
        return "no user or assistant turn"
    for index, message in enumerate(turns):
        expected = "user" if index % 2 == 0 else "assistant"
        if message.role != expected:
            return f"turn {index + 1} is {message.role!r}, expected {expected!r}"
    if turns[-1].role != "assistant":
        return "the last turn is not the assistant's"
    if any(not m.content.strip() for m in messages):
        return "a turn is empty"
    return None


def _key(example: Example) -> tuple[str, ...]:
    return tuple(_SPACES.sub(" ", m.content).strip().casefold() for m in example.messages)


def build_examples(rows: Iterable[LoggedAnswer]) -> Dataset:
    """Format, redact, validate and de-duplicate ``rows`` (kept in their order)."""
    kept: list[tuple[str, Example]] = []
    seen: set[tuple[str, ...]] = set()
    selected = duplicates = invalid = redactions = 0
    for row in rows:
        selected += 1
        example, found = _format(row)
        redactions += found
        if role_order_error(example.messages) is not None:
            invalid += 1
            continue
        key = _key(example)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        kept.append((row.request_id, example))
    return Dataset(
        examples=tuple(kept), selected=selected, duplicates=duplicates, invalid=invalid,
        pii_redactions=redactions,
    )  # fmt: skip


def split_examples(
    examples: Sequence[tuple[str, Example]], validation_split: float, *, seed: int = SPLIT_SEED
) -> tuple[list[Example], list[Example]]:
    """Shuffle (fixed seed, by request id first) and cut off ``validation_split`` of them.

    The validation part is ``floor(n * validation_split)`` examples, but never so
    many that fewer than :data:`MIN_EXAMPLES` remain to train on.
    """
    ordered = sorted(examples, key=lambda pair: pair[0])
    random.Random(seed).shuffle(ordered)  # a reproducible split
    wanted = int(round(len(ordered) * validation_split, 6))
    size = max(0, min(wanted, len(ordered) - MIN_EXAMPLES))
    cut = len(ordered) - size
    return [e for _, e in ordered[:cut]], [e for _, e in ordered[cut:]]


def encode_jsonl(examples: Iterable[Example]) -> bytes:
    """One ``{"messages": [...]}`` JSON object per line."""
    return b"".join(msgspec.json.encode(e) + b"\n" for e in examples)
