"""Output guardrails and the answer's confidence.

:func:`assess` runs :func:`neuralbridge.guardrails.check_output` on the raw
answer against the retrieved passages, then::

    confidence = 0.0                      if the answer is empty or a refusal
               = grounding                if passages were retrieved
               = UNGROUNDED_CONFIDENCE    otherwise (default 0.5)

where ``grounding`` (0..1) is ``0.5 * coverage + 0.5 * support`` as documented
in :mod:`neuralbridge.guardrails.grounding`: coverage is the share of the
answer's content words found in the passages, support the share of its
sentences of which at least half the content words come from one passage.
Without passages nothing can be checked, so the answer gets a neutral,
configurable score instead of 0 (which would send every ungrounded question to
the fallback). ``problem`` says why an answer should go to API B:
``primary_guardrails`` (empty or refusal) or ``low_confidence`` (below
``CONFIDENCE_THRESHOLD``). PII found in the answer is redacted; its kinds and
counts become output findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from neuralbridge.guardrails import check_output, redact
from neuralbridge.messages.proxy import GuardrailFinding
from neuralbridge.proxy_pipeline.guard import count_findings

__all__ = ["Assessment", "assess"]


@dataclass(frozen=True, slots=True)
class Assessment:
    """A checked answer: redacted text, confidence, findings, and what is wrong with it."""

    text: str
    confidence: float
    findings: list[GuardrailFinding]
    problem: str | None


def assess(
    answer: str, passages: Sequence[str], *, threshold: float, ungrounded: float
) -> Assessment:
    """Check ``answer`` and score it (see the module docstring)."""
    verdict = check_output(answer, sources=passages)
    if verdict.empty or verdict.refusal:
        confidence = 0.0
    elif passages:
        confidence = verdict.grounding
    else:
        confidence = ungrounded
    problem = None
    if verdict.empty or verdict.refusal:
        problem = "primary_guardrails"
    elif confidence < threshold:
        problem = "low_confidence"
    redacted = redact(answer, verdict.findings)
    findings = count_findings("output", [f.kind.value for f in verdict.findings])
    return Assessment(
        text=redacted.text, confidence=round(confidence, 4), findings=findings, problem=problem
    )
