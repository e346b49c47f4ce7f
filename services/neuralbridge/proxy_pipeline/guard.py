"""Input guardrails: sanitise, refuse injections, redact PII — before anything else.

Order matters: the text is sanitised (invisible and control characters out,
``MAX_INPUT_CHARS`` enforced), checked for prompt injection on the sanitised
text, then redacted. Only the redacted text goes on: to the cache key, the
embedder, the prompt, the session history, the query log and any log line.

A flagged injection is refused with ``ProxyFailure(error_class="GuardrailBlocked")``
naming the rules that fired (never the text), rather than a polite refusal
answer: a client can tell a block from an answer without parsing prose, and
nothing is cached or logged for training.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from neuralbridge.guardrails import InputRejected, detect_prompt_injection, redact, sanitize_input
from neuralbridge.messages.proxy import GuardrailFinding
from neuralbridge.proxy_pipeline import metrics as m
from neuralbridge.proxy_pipeline.errors import GuardrailBlocked, InputRefused

__all__ = ["ScreenedQuery", "count_findings", "screen_query"]


@dataclass(frozen=True, slots=True)
class ScreenedQuery:
    """The query as the rest of the pipeline may see it."""

    text: str
    findings: list[GuardrailFinding]


def screen_query(query: str, *, max_chars: int, injection_threshold: float) -> ScreenedQuery:
    """Sanitise, check and redact ``query``.

    Raises:
        InputRefused: empty after sanitising, or longer than ``max_chars``.
        GuardrailBlocked: the injection score reached ``injection_threshold``.
    """
    try:
        clean = sanitize_input(query, max_chars=max_chars).text
    except InputRejected as exc:
        m.GUARDRAIL_BLOCKS.labels("too_long").inc()
        raise InputRefused(str(exc)) from None
    if not clean.strip():
        m.GUARDRAIL_BLOCKS.labels("empty").inc()
        raise InputRefused("the query is empty")
    verdict = detect_prompt_injection(clean, threshold=injection_threshold)
    if verdict.flagged:
        m.GUARDRAIL_BLOCKS.labels("prompt_injection").inc()
        raise GuardrailBlocked(
            "request blocked by input guardrails: prompt injection suspected "
            f"(score {verdict.score:.2f}; rules: {', '.join(verdict.reasons)})"
        )
    redacted = redact(clean)
    findings = count_findings("input", [f.kind.value for f in redacted.findings])
    return ScreenedQuery(text=redacted.text.strip(), findings=findings)


def count_findings(stage: Literal["input", "output"], kinds: list[str]) -> list[GuardrailFinding]:
    """Findings as kinds and counts (also counted in metrics)."""
    counted = Counter(kinds)
    for kind, count in counted.items():
        m.GUARDRAIL_FINDINGS.labels(stage, kind).inc(count)
    return [
        GuardrailFinding(stage=stage, kind=kind, count=count)
        for kind, count in sorted(counted.items())
    ]
