"""What a PII detector reports: the kind of data found and where."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["PiiFinding", "PiiKind", "build_finding"]


class PiiKind(enum.StrEnum):
    """The kinds of personal or secret data :func:`find_pii` detects.

    Each kind has a stable placeholder (``[EMAIL]``, ``[CREDIT_CARD]``...)
    that :func:`redact` writes in place of the data, so two prompts that differ
    only in the PII they carry redact to the same text and share a cache entry.
    """

    EMAIL = "email"
    PHONE = "phone"
    CREDIT_CARD = "credit_card"
    CARD_CODE = "card_code"
    IBAN = "iban"
    CPF = "cpf"
    CNPJ = "cnpj"
    SSN = "ssn"
    NIF = "nif"
    IP_ADDRESS = "ip_address"
    SECRET = "secret"  # noqa: S105 - the name of a kind, not a credential

    @property
    def placeholder(self) -> str:
        """The text written in place of data of this kind, e.g. ``[CREDIT_CARD]``."""
        return f"[{self.value.upper()}]"


@dataclass(frozen=True, slots=True, kw_only=True)
class PiiFinding:
    """One piece of PII in a text.

    ``text`` is the sensitive data itself: never log it or store it. It is left
    out of ``repr()`` so that logging a finding by mistake does not leak it.

    Attributes:
        kind: What was found.
        start: Offset of the first character in the scanned text.
        end: Offset just past the last character (``text[start:end]``).
        text: The matched characters (sensitive).
        replacement: The placeholder :func:`redact` writes in its place.
    """

    kind: PiiKind
    start: int
    end: int
    text: str = field(repr=False)
    replacement: str


def build_finding(kind: PiiKind, text: str, start: int, end: int) -> PiiFinding:
    """A finding of ``kind`` covering ``text[start:end]``.

    Args:
        kind: What was found.
        text: The scanned text.
        start: Offset of the first character.
        end: Offset just past the last character.

    Returns:
        The finding, with the matched text and the kind's placeholder.
    """
    return PiiFinding(
        kind=kind, start=start, end=end, text=text[start:end], replacement=kind.placeholder
    )
