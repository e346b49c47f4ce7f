"""Brazilian CPF and CNPJ numbers, US Social Security numbers and Portuguese NIFs.

Every candidate must pass its check digits or number-plan rules, and none may
be glued to more digits or letters:

* CPF: eleven digits written ``###.###.###-##``, ``### ### ### ##``,
  ``#########-##`` or bare, whose two check digits are right and whose digits
  are not all equal.
* CNPJ: ``##.###.###/####-##``, the same without dots, slash or dash, or 14 bare
  digits, with both check digits right.
* SSN: ``###-##-####`` or ``### ## ####`` with an area other than 000, 666 and
  900-999, a group other than 00 and a serial other than 0000. Right after
  ``SSN`` or ``social security (number)`` any of those layouts counts, and so
  do nine bare digits (elsewhere nine bare digits are too ambiguous).
* NIF (Portuguese tax number, NIPC for companies): nine digits, bare, grouped
  ``### ### ###`` or with the ``PT`` VAT prefix, starting as issued numbers do
  and with the mod-11 check digit right. A bare number that passes is flagged
  with or without a ``NIF``/``contribuinte`` label nearby: about one random
  nine-digit number in sixteen does, the price of finding unlabelled ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from neuralbridge.guardrails.checksums import cnpj_valid, cpf_valid, nif_valid, ssn_valid
from neuralbridge.guardrails.findings import PiiFinding, PiiKind, build_finding

__all__ = ["find_cnpjs", "find_cpfs", "find_nifs", "find_ssns"]

# The lookahead for a digit lets the regex engine skip to candidates.
_BEFORE: Final = r"(?=\d)(?<![\w.\-/])"
_AFTER: Final = r"(?!\w|[.\-/]\d)"
_CPF: Final = re.compile(
    _BEFORE + r"\d{3}(?P<sep>[. ]?)\d{3}(?P=sep)\d{3}(?:-|(?P=sep))?\d{2}" + _AFTER
)
_CNPJ: Final = re.compile(_BEFORE + r"\d{2}(?P<sep>\.?)\d{3}(?P=sep)\d{3}/?\d{4}-?\d{2}" + _AFTER)
_SSN: Final = re.compile(_BEFORE + r"(\d{3})([- ])(\d{2})\2(\d{4})" + _AFTER)
_SSN_LABELLED: Final = re.compile(
    r"(?=[sS])(?i:\b(?:ssn|social[ -]security(?: (?:number|no\.?|n[ºo°]))?))"
    r"[ \t]*(?:#|:|=|is|n[ºo°]\.?)?[ \t]*"
    r"(?P<number>(\d{3})([-. ]?)(\d{2})\3(\d{4}))" + _AFTER
)
_NIF: Final = re.compile(
    r"(?=[P\d])(?<![\w.\-/])(?<!\d )(?:PT ?)?(?P<number>\d{3}(?P<sep> ?)\d{3}(?P=sep)\d{3})"
    r"(?!\w|[.\-/ ]\d)"
)


def _digits(value: str) -> str:
    return "".join(char for char in value if char.isdigit())


def find_cpfs(text: str) -> Iterator[PiiFinding]:
    """CPF numbers in ``text`` with valid check digits.

    Args:
        text: The text to scan.

    Yields:
        One ``cpf`` finding per CPF, in order.
    """
    for match in _CPF.finditer(text):
        if cpf_valid(_digits(match.group())):
            yield build_finding(PiiKind.CPF, text, match.start(), match.end())


def find_cnpjs(text: str) -> Iterator[PiiFinding]:
    """CNPJ numbers in ``text`` with valid check digits.

    Args:
        text: The text to scan.

    Yields:
        One ``cnpj`` finding per CNPJ, in order.
    """
    for match in _CNPJ.finditer(text):
        if cnpj_valid(_digits(match.group())):
            yield build_finding(PiiKind.CNPJ, text, match.start(), match.end())


def _ssn_spans(text: str) -> Iterator[tuple[int, int]]:
    for match in _SSN_LABELLED.finditer(text):
        area, _, group, serial = match.groups()[1:]
        if ssn_valid(area, group, serial):
            yield match.span("number")
    for match in _SSN.finditer(text):
        area, _, group, serial = match.groups()
        if ssn_valid(area, group, serial):
            yield match.span()


def find_ssns(text: str) -> Iterator[PiiFinding]:
    """US Social Security numbers that can have been issued.

    Args:
        text: The text to scan.

    Yields:
        One ``ssn`` finding per SSN (the number only, never its label), in order.
    """
    covered = 0
    for start, end in sorted(_ssn_spans(text), key=lambda span: (span[0], -span[1])):
        if start >= covered:
            covered = end
            yield build_finding(PiiKind.SSN, text, start, end)


def find_nifs(text: str) -> Iterator[PiiFinding]:
    """Portuguese tax numbers (NIF/NIPC) in ``text`` with a valid check digit.

    Args:
        text: The text to scan.

    Yields:
        One ``nif`` finding per number (with its ``PT`` prefix, if any), in order.
    """
    for match in _NIF.finditer(text):
        if nif_valid(_digits(match.group("number"))):
            yield build_finding(PiiKind.NIF, text, match.start(), match.end())
