"""Checks on a provider's answer before it is cached or returned.

* ``empty``: nothing but whitespace and invisible characters.
* ``refusal``: a refusal phrase in English or Portuguese ("I can't help
  with", "As an AI", "não posso ajudar", "desculpe, mas não"...) within the
  first :data:`REFUSAL_WINDOW` characters, where a refusal says so; a long
  answer that mentions such a phrase later on is not a refusal.
* ``grounding``: see :mod:`neuralbridge.guardrails.grounding`.
* ``findings``: PII in the answer (:func:`find_pii`), to redact before caching.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from neuralbridge.guardrails.findings import PiiFinding
from neuralbridge.guardrails.grounding import grounding_score
from neuralbridge.guardrails.pii import find_pii

__all__ = ["REFUSAL_WINDOW", "OutputVerdict", "check_output", "is_refusal"]

#: How many leading characters of an answer are searched for a refusal.
REFUSAL_WINDOW: Final = 400

_APOSTROPHES: Final = str.maketrans("\u2019\u2018\u02bc", "'''")
_REFUSAL: Final = re.compile(
    r"\bi\s*(?:can'?t|cannot|can\s+not|won'?t|will\s+not|am\s+unable\s+to|'m\s+unable\s+to"
    r"|am\s+not\s+able\s+to|'m\s+not\s+able\s+to)\s+(?:help|assist|provide|comply|do\s+that"
    r"|fulfil|fulfill|support|answer|share|create|generate|give)"
    r"|\bas\s+an\s+ai\b|\bas\s+a\s+language\s+model\b"
    r"|\bi(?:'m|\s+am)\s+sorry,?\s+but\s+i\b"
    r"|\bi\s+must\s+(?:decline|refuse)\b"
    r"|\bnao\s+(?:posso|consigo|sou\s+capaz\s+de|tenho\s+como|e\s+possivel)\s+"
    r"(?:ajudar|fornecer|atender|responder|auxiliar|fazer\s+isso|criar|gerar|compartilhar)"
    r"|\b(?:desculpe|lamento|sinto\s+muito|infelizmente),?\s+(?:mas\s+)?nao\s+"
    r"(?:posso|consigo|e\s+possivel|tenho)"
    r"|\bcomo\s+(?:uma\s+|um\s+)?(?:ia|inteligencia\s+artificial|modelo\s+de\s+linguagem)\b"
    r"|\bnao\s+tenho\s+permissao\b|\bdevo\s+recusar\b",
    re.IGNORECASE,
)
_INVISIBLE: Final = re.compile("[\u200b-\u200f\u2060\ufeff]")


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputVerdict:
    """What the output checks found in an answer.

    Attributes:
        empty: The answer has no visible characters.
        refusal: The answer opens with a refusal.
        grounding: How much of the answer the sources support, 0..1.
        findings: PII found in the answer, in order (their text is sensitive).
    """

    empty: bool
    refusal: bool
    grounding: float
    findings: tuple[PiiFinding, ...]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def is_refusal(answer: str) -> bool:
    """Whether ``answer`` opens with a refusal, in English or Portuguese.

    Args:
        answer: The model's answer.

    Returns:
        ``True`` when a refusal phrase occurs in the first
        :data:`REFUSAL_WINDOW` characters.
    """
    return _REFUSAL.search(_fold(answer.lstrip()[:REFUSAL_WINDOW])) is not None


def check_output(answer: str, *, sources: Sequence[str]) -> OutputVerdict:
    """Run the output checks on a provider's answer.

    Args:
        answer: The model's answer.
        sources: The passages the answer should rest on; empty when the
            request had no retrieval context (grounding is then 0.0).

    Returns:
        Emptiness, refusal, grounding score and PII findings.
    """
    empty = not _INVISIBLE.sub("", answer).strip()
    return OutputVerdict(
        empty=empty,
        refusal=not empty and is_refusal(answer),
        grounding=grounding_score(answer, sources),
        findings=tuple(find_pii(answer)),
    )
