"""Secrets: API keys, access tokens, JWTs and private keys.

Two kinds of evidence are used:

* **Shape.** Vendor formats recognisable on their own: OpenAI/Anthropic
  ``sk-...``/``sk-proj-...``/``sk-ant-...``, Stripe ``sk_live_...``, AWS access
  key ids ``AKIA...``/``ASIA...``, GitHub ``ghp_...``/``github_pat_...``, Slack
  ``xoxb-...``, Google ``AIza...``, JWTs ``eyJ...``, PEM private-key blocks, and
  the token after ``Bearer`` (the word itself is kept).
* **Context.** A long token (16+ characters of letters, digits and ``+/_=.-``)
  that mixes letters and digits and has at least 3 bits of entropy per
  character, right after a word such as ``key``, ``token``, ``secret``,
  ``password``, ``senha`` or ``chave`` (optionally followed by ``:``, ``=``,
  ``is``, ``é``, and a quote). Only the token is flagged.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Final

from neuralbridge.guardrails.findings import PiiFinding, PiiKind, build_finding

__all__ = ["find_secrets"]

_SHAPES: Final = re.compile(
    r"(?<![\w-])(?:"
    r"sk-(?:proj-|ant-(?:api\d\d-)?|live-|test-)?[A-Za-z0-9_-]{20,}"
    r"|[sprk]k_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|xox[abeoprs]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r")(?![\w-])"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"
)
_BEARER: Final = re.compile(r"\bBearer\s+(?P<value>[A-Za-z0-9._~+/-]{16,}=*)", re.IGNORECASE)
_KEYWORD_VALUE: Final = re.compile(
    r"(?:\b(?:api[_ -]?key|apikey|access[_ -]?key|secret(?:[_ -]?key)?|client[_ -]?secret"
    r"|token|access[_ -]?token|auth|password|passwd|pwd|senha|chave(?: de api| secreta)?"
    r"|credencial|credential)s?\b)"
    r"[\"']?\s*(?:[:=]|:=|=>|\bis\b|\bé\b)?\s*[\"']?"
    r"(?P<value>[A-Za-z0-9+/_=.-]{16,})",
    re.IGNORECASE,
)
_MIN_ENTROPY_BITS: Final = 3.0


def _entropy(value: str) -> float:
    """Shannon entropy of ``value``'s characters, in bits per character."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _looks_random(value: str) -> bool:
    has_digit = any(char.isdigit() for char in value)
    has_letter = any(char.isalpha() for char in value)
    return has_digit and has_letter and _entropy(value) >= _MIN_ENTROPY_BITS


def _value_span(match: re.Match[str]) -> tuple[int, int]:
    """The span of the ``value`` group without a sentence's final punctuation."""
    start = match.start("value")
    return start, start + len(match.group("value").rstrip(".-"))


def _secret_spans(text: str) -> Iterator[tuple[int, int]]:
    for match in _SHAPES.finditer(text):
        yield match.span()
    for match in _BEARER.finditer(text):
        yield _value_span(match)
    for match in _KEYWORD_VALUE.finditer(text):
        start, end = _value_span(match)
        if end - start >= 16 and _looks_random(text[start:end]):
            yield start, end


def find_secrets(text: str) -> Iterator[PiiFinding]:
    """API keys, tokens and private keys in ``text``.

    Args:
        text: The text to scan.

    Yields:
        One ``secret`` finding per secret, in order; overlapping evidence for
        the same secret gives one finding covering the longest match.
    """
    covered = 0
    for start, end in sorted(_secret_spans(text), key=lambda span: (span[0], -span[1])):
        if start >= covered:
            covered = end
            yield build_finding(PiiKind.SECRET, text, start, end)
