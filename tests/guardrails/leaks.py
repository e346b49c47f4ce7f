"""Whether a piece of PII survived redaction, whole or in part."""

from __future__ import annotations

import re

__all__ = ["leaks"]

_DIGIT_RUN = re.compile(r"\d(?:[ .\-/]?\d)*")


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def leaks(redacted: str, secret: str) -> bool:
    """Whether ``secret``, or a recognisable part of it, is still in ``redacted``.

    Compared as written (case-insensitively), as bare digits (so ``123.456.789-09``
    left as ``123456789-09`` or ``123.456.789-[CPF]`` counts), and as any run of
    five or more digits left over that is part of the secret's digits. A short
    all-digit secret (a card's security code) counts only as a whole number.
    """
    value_digits = _digits(secret)
    if value_digits == secret and len(secret) < 6:
        return re.search(rf"(?<!\d){secret}(?!\d)", redacted) is not None
    if secret.lower() in redacted.lower():
        return True
    if len(value_digits) < 6:
        return False
    if value_digits in _digits(redacted):
        return True
    runs = (_digits(run.group()) for run in _DIGIT_RUN.finditer(redacted))
    return any(len(run) >= 5 and run in value_digits for run in runs)
