"""Payment card numbers and IBANs.

A card number is 13 to 19 digits, contiguous or in groups split by one space,
dash or dot used consistently (4-4-4-4, 4-4-4-4-3, Amex 4-6-5, Diners 4-6-4),
that passes the Luhn checksum and starts with a known issuer's IIN range at a
length that issuer uses. Digits that continue a code glued to letters (the
groups of an IBAN with a wrong checksum, ``DE16 5635 3948...``, or anything
after ``word-``) are not a card, and a bare 13-digit number that is a valid
EAN-13 barcode is taken for the barcode. An IBAN is a country code, two check
digits and the basic bank account number, compact or in groups split by single
spaces or dashes, whose length matches the country and whose mod-97 checksum
is 1.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Final

from neuralbridge.guardrails.checksums import (
    IBAN_LENGTHS,
    card_issuer,
    ean13_valid,
    iban_valid,
    luhn_valid,
)
from neuralbridge.guardrails.findings import PiiFinding, PiiKind, build_finding

__all__ = ["find_cards", "find_ibans"]

_DIGIT_RUN: Final = re.compile(r"(?<![\w.,])(?<!\d[ .])(?<!\w-)\d+(?:[ .-]\d+)*(?![\w])")
_GROUP: Final = re.compile(r"\d+")
_MAX_GROUPS: Final = 5
_IBAN_SEPARATORS: Final = " -"
_GROUPED_LAYOUTS: Final = frozenset({(4, 6, 5), (4, 6, 4)})
_IBAN_START: Final = re.compile(
    r"(?=[A-Z])\b(?=[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,30})", re.IGNORECASE
)


def _layout_ok(sizes: tuple[int, ...]) -> bool:
    if len(sizes) == 1 or sizes in _GROUPED_LAYOUTS:
        return True
    return all(size == 4 for size in sizes[:-1]) and 1 <= sizes[-1] <= 4


def _is_card(text: str, groups: list[re.Match[str]]) -> bool:
    separators = {text[a.end() : b.start()] for a, b in itertools.pairwise(groups)}
    if len(separators) > 1:
        return False
    digits = "".join(group.group() for group in groups)
    if not 13 <= len(digits) <= 19 or not _layout_ok(tuple(len(g.group()) for g in groups)):
        return False
    if len(groups) == 1 and ean13_valid(digits):
        return False  # a barcode; 13-digit cards (old Visa) are no longer issued
    return luhn_valid(digits) and card_issuer(digits) is not None


def _cards_in_run(text: str, groups: list[re.Match[str]]) -> Iterator[PiiFinding]:
    sizes = [len(group.group()) for group in groups]
    first = 0
    while first < len(groups):
        last = min(len(groups), first + _MAX_GROUPS) - 1
        while last >= first and not (
            _plausible(sizes, first, last) and _is_card(text, groups[first : last + 1])
        ):
            last -= 1
        if last < first:
            first += 1
            continue
        yield build_finding(PiiKind.CREDIT_CARD, text, groups[first].start(), groups[last].end())
        first = last + 1


def _plausible(sizes: list[int], first: int, last: int) -> bool:
    """A cheap test before :func:`_is_card`: a card's length, and grouped ones open with 4."""
    return 13 <= sum(sizes[first : last + 1]) <= 19 and (first == last or sizes[first] == 4)


def find_cards(text: str) -> Iterator[PiiFinding]:
    """Payment card numbers in ``text`` (Luhn-valid, known issuer and length).

    Args:
        text: The text to scan.

    Yields:
        One ``credit_card`` finding per card number, in order.
    """
    for run in _DIGIT_RUN.finditer(text):
        if sum(char.isdigit() for char in run.group()) < 13:
            continue
        groups = list(_GROUP.finditer(text, run.start(), run.end()))
        yield from _cards_in_run(text, groups)


def _iban_end(text: str, start: int) -> int | None:
    """Where the IBAN starting at ``start`` ends, or ``None`` if it is not one."""
    expected = IBAN_LENGTHS.get(text[start : start + 2].upper())
    if expected is None:
        return None
    count, position = 0, start
    while position < len(text) and count < expected:
        char = text[position]
        if char.isascii() and char.isalnum():
            count += 1
        elif char not in _IBAN_SEPARATORS or text[position - 1] in _IBAN_SEPARATORS:
            break
        position += 1
    if count != expected or (position < len(text) and text[position].isalnum()):
        return None
    compact = text[start:position].replace(" ", "").replace("-", "").upper()
    return position if iban_valid(compact) else None


def find_ibans(text: str) -> Iterator[PiiFinding]:
    """IBANs in ``text``, compact or grouped by spaces or dashes, checksum verified.

    Args:
        text: The text to scan.

    Yields:
        One ``iban`` finding per IBAN, in order.
    """
    covered = 0
    for candidate in _IBAN_START.finditer(text):
        start = candidate.start()
        if start < covered:
            continue
        end = _iban_end(text, start)
        if end is not None:
            covered = end
            yield build_finding(PiiKind.IBAN, text, start, end)
