"""Replacing PII with typed placeholders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from neuralbridge.guardrails.findings import PiiFinding
from neuralbridge.guardrails.pii import find_pii

__all__ = ["RedactionResult", "redact"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RedactionResult:
    """A redacted text and what was taken out of it.

    Attributes:
        text: The text with every finding replaced by its placeholder; all
            other characters are unchanged.
        findings: The findings that were replaced, in order, with offsets into
            the *original* text (their ``text`` is sensitive).
    """

    text: str
    findings: tuple[PiiFinding, ...]


def redact(text: str, findings: Sequence[PiiFinding] | None = None) -> RedactionResult:
    """Replace each piece of PII in ``text`` with its kind's placeholder.

    Placeholders are stable (``[EMAIL]``, ``[CPF]``, ``[CREDIT_CARD]``...), so
    prompts that differ only in the PII they carry redact to the same string
    and hit the same cache entry.

    Args:
        text: The text to redact.
        findings: Findings from :func:`find_pii` on this same ``text``; when
            ``None`` the text is scanned here.

    Returns:
        The redacted text and the findings it replaced.

    Raises:
        ValueError: When findings overlap or fall outside ``text``.
    """
    chosen = tuple(find_pii(text) if findings is None else sorted(findings, key=_start))
    pieces: list[str] = []
    position = 0
    for finding in chosen:
        if finding.start < position or finding.end > len(text) or finding.start > finding.end:
            raise ValueError("findings overlap or fall outside the text")
        pieces.append(text[position : finding.start])
        pieces.append(finding.replacement)
        position = finding.end
    pieces.append(text[position:])
    return RedactionResult(text="".join(pieces), findings=chosen)


def _start(finding: PiiFinding) -> int:
    return finding.start
