"""Input guardrails: sanitise, refuse injections, redact PII — before anything else.

Order matters: the text is sanitised (invisible and control characters out,
``MAX_INPUT_CHARS`` enforced), checked for prompt injection on the sanitised
text, then redacted. Only the redacted text goes on: to the cache key, the
embedder, the prompt, the session history, the query log and any log line.

A conversation the client keeps itself (:attr:`ProxyRequest.history`) goes
through :func:`screen_query` with the query: only its last ``SESSION_MAX_TURNS``
turns are kept, and each of their messages is screened like the query, so an
injection cannot hide in an earlier message and no PII in one reaches a provider.

Screening is a pure function of the text and the two limits, so the outcome of
a text that passed is remembered (:data:`REMEMBERED` texts, least recently used
dropped) under a keyed hash of the text, never the text itself: a repeated
question, typically a cache hit, is not screened again. Findings are still
counted in the metrics for every request.

A flagged injection is refused with ``ProxyFailure(error_class="GuardrailBlocked")``
naming the rules that fired (never the text), rather than a polite refusal
answer: a client can tell a block from an answer without parsing prose, and
nothing is cached or logged for training.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from neuralbridge.guardrails import InputRejected, detect_prompt_injection, redact, sanitize_input
from neuralbridge.llm import ChatMessage
from neuralbridge.messages.proxy import GuardrailFinding, HistoryMessage
from neuralbridge.proxy_pipeline import metrics as m
from neuralbridge.proxy_pipeline.errors import GuardrailBlocked, InputRefused

__all__ = ["ScreenedQuery", "count_findings", "screen_query"]


@dataclass(frozen=True, slots=True)
class ScreenedQuery:
    """The query (and the client's history, if sent) as the rest of the pipeline may see it.

    ``text`` and ``history`` are redacted: what is stored, logged, cached and
    published. ``prompt_text`` and ``prompt_history`` are what the LLM provider
    is sent: the same, unless the operator keeps PII in prompts
    (``PII_REDACT_LLM_INPUT=false``), when they are sanitised but not redacted.
    """

    text: str
    findings: list[GuardrailFinding]
    history: list[ChatMessage] | None = None
    prompt_text: str = ""
    prompt_history: list[ChatMessage] | None = None


def screen_query(
    query: str,
    *,
    max_chars: int,
    injection_threshold: float,
    history: Sequence[HistoryMessage] | None = None,
    max_turns: int = 5,
    redact_prompt: bool = True,
) -> ScreenedQuery:
    """Sanitise, check and redact ``query``, and the last ``max_turns`` turns of ``history``.

    With ``redact_prompt`` False, the prompt texts are the sanitised, unredacted
    ones (never remembered: the screening memo holds redacted text only).

    A turn is a user message and what follows it up to the next user message;
    history messages that are empty once sanitised are dropped. Findings count
    the query's and the history's PII together.

    Raises:
        InputRefused: the query is empty after sanitising, or a text is longer than
            ``max_chars``.
        GuardrailBlocked: a text's injection score reached ``injection_threshold``.
    """
    kinds: list[str] = []
    text = _screen(query, max_chars, injection_threshold, kinds)
    if not text:
        m.GUARDRAIL_BLOCKS.labels("empty").inc()
        raise InputRefused("the query is empty")
    screened = None
    if history is not None:
        screened = _screen_history(history, max_turns, max_chars, injection_threshold, kinds)
    prompt_text, prompt_history = text, screened
    if not redact_prompt:  # every text already passed its checks above
        prompt_text = _sanitized(query, max_chars)
        if history is not None:
            prompt_history = _sanitized_history(history, max_turns, max_chars)
    return ScreenedQuery(
        text=text, findings=count_findings("input", kinds), history=screened,
        prompt_text=prompt_text, prompt_history=prompt_history,
    )  # fmt: skip


def _sanitized(text: str, max_chars: int) -> str:
    return sanitize_input(text, max_chars=max_chars).text.strip()


def _sanitized_history(
    history: Sequence[HistoryMessage], max_turns: int, max_chars: int
) -> list[ChatMessage]:
    starts = [i for i, message in enumerate(history) if message.role == "user"]
    kept = history[starts[-max_turns] :] if len(starts) > max_turns else history
    return [
        ChatMessage(role=message.role, content=clean)
        for message in kept
        if (clean := _sanitized(message.content, max_chars))
    ]


def _screen_history(
    history: Sequence[HistoryMessage],
    max_turns: int,
    max_chars: int,
    injection_threshold: float,
    kinds: list[str],
) -> list[ChatMessage]:
    starts = [i for i, message in enumerate(history) if message.role == "user"]
    kept = history[starts[-max_turns] :] if len(starts) > max_turns else history
    messages: list[ChatMessage] = []
    for message in kept:
        try:
            text = _screen(message.content, max_chars, injection_threshold, kinds)
        except InputRefused as exc:
            raise InputRefused(f"an earlier message: {exc}") from None
        except GuardrailBlocked as exc:
            raise GuardrailBlocked(f"{exc} in an earlier message") from None
        if text:
            messages.append(ChatMessage(role=message.role, content=text))
    return messages


#: Texts whose screening outcome is remembered.
REMEMBERED = 4096
_passed: OrderedDict[tuple[bytes, int, float], tuple[str, tuple[str, ...]]] = OrderedDict()
_HASH_KEY = os.urandom(16)  # per process: the hashes mean nothing outside it


def _screen(text: str, max_chars: int, injection_threshold: float, kinds: list[str]) -> str:
    """Sanitised, checked and redacted ``text`` ("" if nothing is left once sanitised).

    The kinds of PII found are appended to ``kinds``.
    """
    digest = hashlib.blake2b(text.encode(), digest_size=16, key=_HASH_KEY).digest()
    key = (digest, max_chars, injection_threshold)
    known = _passed.get(key)
    if known is not None:
        _passed.move_to_end(key)
        kinds.extend(known[1])
        return known[0]
    found: list[str] = []
    screened = _screen_once(text, max_chars, injection_threshold, found)
    _passed[key] = (screened, tuple(found))
    while len(_passed) > REMEMBERED:
        _passed.popitem(last=False)
    kinds.extend(found)
    return screened


def _screen_once(text: str, max_chars: int, injection_threshold: float, kinds: list[str]) -> str:
    try:
        clean = sanitize_input(text, max_chars=max_chars).text
    except InputRejected as exc:
        m.GUARDRAIL_BLOCKS.labels("too_long").inc()
        raise InputRefused(str(exc)) from None
    if not clean.strip():
        return ""
    verdict = detect_prompt_injection(clean, threshold=injection_threshold)
    if verdict.flagged:
        m.GUARDRAIL_BLOCKS.labels("prompt_injection").inc()
        raise GuardrailBlocked(
            "request blocked by input guardrails: prompt injection suspected "
            f"(score {verdict.score:.2f}; rules: {', '.join(verdict.reasons)})"
        )
    redacted = redact(clean)
    kinds.extend(f.kind.value for f in redacted.findings)
    return redacted.text.strip()


def count_findings(stage: Literal["input", "output"], kinds: list[str]) -> list[GuardrailFinding]:
    """Findings as kinds and counts (also counted in metrics)."""
    counted = Counter(kinds)
    for kind, count in counted.items():
        m.GUARDRAIL_FINDINGS.labels(stage, kind).inc(count)
    return [
        GuardrailFinding(stage=stage, kind=kind, count=count)
        for kind, count in sorted(counted.items())
    ]
