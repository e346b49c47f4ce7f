"""Telephone numbers: Brazilian, Portuguese, North American and international (E.164).

Only numbers with a telephone's structure are flagged, so dates, times, order
ids, amounts, postal codes and plain numbers are not:

* Brazilian: an area code (DDD) that exists, then a mobile number (``9`` and
  eight digits) or a landline (``2``-``5`` and seven digits), split 4-4 or 5-4.
  Without ``+55`` the DDD must be in parentheses or followed by a separator:
  ``+55 (11) 91234-5678``, ``(11) 91234-5678``, ``11 91234 5678``, ``+5511912345678``.
* North American: an area code and an exchange that do not start with 0 or 1,
  and a separator before the last four digits: ``(415) 555-0100``,
  ``415-555-0100``, ``+1 415 555 0100``, ``1-800-555-0199``.
* Any other number written with ``+`` and a country code, 8 to 15 digits in
  all, optionally grouped by single spaces, dots or dashes: ``+44 20 7946 0958``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from neuralbridge.guardrails.findings import PiiFinding, PiiKind, build_finding

__all__ = ["find_phones"]

#: Brazilian area codes (DDD) in use, per Anatel.
_AREA_CODES: Final = frozenset(
    (
        *range(11, 20), 21, 22, 24, 27, 28, *range(31, 36), 37, 38, *range(41, 50), 51, 53, 54,
        55, *range(61, 70), 71, *range(73, 76), 77, 79, *range(81, 90), *range(91, 100),
    )
)  # fmt: skip
# Each pattern opens with a lookahead for the characters it can start with:
# the regex engine then skips ahead to those instead of trying every position.
_AFTER: Final = r"(?!\w|[.\-/]\d)"
_BRAZIL: Final = re.compile(
    r"(?=[+(\d])(?<![\w+])(?:(?P<cc>\+55)[ .-]?)?"
    r"(?:\((?P<ddd_p>\d{2})\) ?|(?P<ddd>\d{2})(?P<sep>[ .-]?))"
    r"(?:9[ .]?\d{4}|[2-5]\d{3})[ .-]?\d{4}" + _AFTER
)
_BRAZIL_COMPACT: Final = re.compile(r"(?=[+\d])(?<![\w+])(?:\+?55)?(?P<ddd>\d{2})9\d{8}" + _AFTER)
_PORTUGAL: Final = re.compile(
    r"(?=[+\d])(?<![\w+])(?<!\d )(?:\+?351[ .-]?)?9[1236]\d(?P<sep>[ -]?)\d{3}(?P=sep)\d{3}"
    r"(?!\w|[.\-/ ]\d)"
)
_NORTH_AMERICA: Final = re.compile(
    r"(?=[+(\d])(?<![\w+])(?:\+?1[ .-]?)?"
    r"(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])"
    r"[2-9]\d{2}[ .-]\d{4}" + _AFTER
)
_INTERNATIONAL: Final = re.compile(r"(?=\+)(?<![\w+])\+[1-9](?:[ .-]?\d){7,14}" + _AFTER)


def _brazilian_ok(match: re.Match[str]) -> bool:
    ddd = match.group("ddd_p") or match.group("ddd")
    if int(ddd) not in _AREA_CODES:
        return False
    return bool(match.group("cc") or match.group("ddd_p") or match.group("sep"))


def _matches(text: str) -> Iterator[tuple[int, int]]:
    for match in _BRAZIL.finditer(text):
        if _brazilian_ok(match):
            yield match.span()
    for match in _BRAZIL_COMPACT.finditer(text):
        if int(match.group("ddd")) in _AREA_CODES:
            yield match.span()
    for match in _PORTUGAL.finditer(text):
        yield match.span()
    for match in _NORTH_AMERICA.finditer(text):
        yield match.span()
    for match in _INTERNATIONAL.finditer(text):
        yield match.span()


def find_phones(text: str) -> Iterator[PiiFinding]:
    """Telephone numbers in ``text``; where formats overlap, the longest wins.

    Args:
        text: The text to scan.

    Yields:
        One ``phone`` finding per number, in order.
    """
    covered = 0
    for start, end in sorted(_matches(text), key=lambda span: (span[0], -span[1])):
        if start >= covered:
            covered = end
            yield build_finding(PiiKind.PHONE, text, start, end)
