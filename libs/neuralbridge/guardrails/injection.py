"""Heuristic prompt-injection detection for English and Portuguese text.

Scoring. Each rule in :data:`~neuralbridge.guardrails.injection_rules.RULES`
has a weight ``w`` in 0..1 saying how strongly it alone suggests an attack
(``ignore_previous_instructions`` 0.8, ``delimiter_injection`` 0.7,
``developer_mode`` and ``dan_jailbreak`` 0.6, ``role_override`` 0.45,
``no_restrictions``, ``roleplay_jailbreak`` and ``new_instructions`` 0.4,
``system_prompt_reference`` 0.3, ``act_as`` 0.25). Two more rules look at
the text as a whole:

* ``instruction_density`` (0.35): three or more forceful directives ("you
  must", "do not refuse", "obey", "você deve", "nunca recuse"...), or two
  or more when they make half the sentences or more;
* ``base64_instructions`` (0.7): a base64 blob of 24+ characters that decodes
  to readable text on which any other rule fires.

A rule counts once however often it matches. The score combines the rules
that fired as independent evidence (noisy-OR)::

    score = 1 - (1 - w1) * (1 - w2) * ... * (1 - wn)

so it is 0.0 when nothing fires, any single rule of weight >= 0.5 flags the
text at the default threshold of 0.5, and weaker rules flag it only together
(``act_as`` 0.25 alone does not; ``role_override`` + ``act_as`` gives 0.59).
The text is flagged when ``score >= threshold``. ``reasons`` lists the names
of the rules that fired, in rule order.

Matching is done on folded text: case-folded, accents removed, invisible
characters dropped and whitespace collapsed, so ``IGNORE``, ``instruções`` and
``instru\\u200bções`` all match.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from neuralbridge.guardrails.injection_rules import DIRECTIVE, RULES

__all__ = ["DEFAULT_INJECTION_THRESHOLD", "InjectionVerdict", "detect_prompt_injection"]

#: Score at or above which a text is flagged.
DEFAULT_INJECTION_THRESHOLD: Final = 0.5

_DENSITY_WEIGHT: Final = 0.35
_BASE64_WEIGHT: Final = 0.7
_BASE64_BLOB: Final = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_-]{24,}={0,2}")
_MAX_BLOBS: Final = 16
_MAX_BLOB_CHARS: Final = 20_000
_INVISIBLE: Final = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_SPACES: Final = re.compile(r"[ \t\u00a0]+")
_SENTENCE_END: Final = re.compile(r"[.!?\n]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class InjectionVerdict:
    """How much a text looks like a prompt-injection attempt.

    Attributes:
        score: Combined evidence, 0.0 (none) to 1.0 (see the module docstring).
        flagged: Whether ``score`` reached the threshold.
        reasons: Names of the rules that fired, e.g. ``"dan_jailbreak"``.
    """

    score: float
    flagged: bool
    reasons: tuple[str, ...]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", _INVISIBLE.sub("", text).casefold())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _SPACES.sub(" ", stripped)


def _fired_rules(text: str) -> list[tuple[str, float]]:
    folded = _fold(text)
    fired = [
        (rule.name, rule.weight)
        for rule in RULES
        if rule.pattern.search(text if rule.case_sensitive else folded)
    ]
    directives = len(DIRECTIVE.findall(folded))
    sentences = max(1, len([s for s in _SENTENCE_END.split(folded) if s.strip()]))
    if directives >= 3 or (directives >= 2 and directives / sentences >= 0.5):
        fired.append(("instruction_density", _DENSITY_WEIGHT))
    return fired


def _decode_blob(blob: str) -> str | None:
    """The readable text a base64 blob decodes to, or ``None``."""
    padded = blob + "=" * (-len(blob) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    printable = sum(char.isprintable() or char.isspace() for char in decoded)
    return decoded if decoded and printable / len(decoded) >= 0.9 else None


def _hides_instructions(text: str) -> bool:
    for count, blob in enumerate(_BASE64_BLOB.finditer(text)):
        if count >= _MAX_BLOBS:
            break
        decoded = _decode_blob(blob.group()[:_MAX_BLOB_CHARS])
        if decoded is not None and _fired_rules(decoded):
            return True
    return False


def detect_prompt_injection(
    text: str, *, threshold: float = DEFAULT_INJECTION_THRESHOLD
) -> InjectionVerdict:
    """Score ``text`` for prompt-injection and jailbreak attempts.

    Args:
        text: User input (or retrieved content) about to reach a model.
        threshold: Score at or above which the verdict is flagged.

    Returns:
        The score, whether it is flagged and which rules fired.
    """
    fired = _fired_rules(text)
    if _hides_instructions(text):
        fired.append(("base64_instructions", _BASE64_WEIGHT))
    remaining = 1.0
    for _, weight in fired:
        remaining *= 1.0 - weight
    score = round(1.0 - remaining, 6)
    return InjectionVerdict(
        score=score, flagged=score >= threshold, reasons=tuple(name for name, _ in fired)
    )
