"""Brazilian CPF and CNPJ numbers and US Social Security numbers.

A CPF is ``###.###.###-##``, ``#########-##`` or 11 bare digits whose two
check digits are right and whose digits are not all equal. A CNPJ is
``##.###.###/####-##`` or 14 bare digits with both check digits right. An SSN
is ``###-##-####`` with an area other than 000, 666 and 900-999, a group other
than 00 and a serial other than 0000 (bare nine-digit numbers are too
ambiguous to flag). None of them may be glued to more digits or letters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from neuralbridge.guardrails.checksums import cnpj_valid, cpf_valid, ssn_valid
from neuralbridge.guardrails.findings import PiiFinding, PiiKind, build_finding

__all__ = ["find_cnpjs", "find_cpfs", "find_ssns"]

_BEFORE: Final = r"(?<![\w.\-/])"
_AFTER: Final = r"(?!\w|[.\-/]\d)"
_CPF: Final = re.compile(_BEFORE + r"(?:\d{3}\.\d{3}\.\d{3}-\d{2}|\d{9}-\d{2}|\d{11})" + _AFTER)
_CNPJ: Final = re.compile(_BEFORE + r"(?:\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}|\d{14})" + _AFTER)
_SSN: Final = re.compile(_BEFORE + r"(\d{3})-(\d{2})-(\d{4})" + _AFTER)


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


def find_ssns(text: str) -> Iterator[PiiFinding]:
    """US Social Security numbers written ``###-##-####`` that can be issued.

    Args:
        text: The text to scan.

    Yields:
        One ``ssn`` finding per SSN, in order.
    """
    for match in _SSN.finditer(text):
        if ssn_valid(*match.groups()):
            yield build_finding(PiiKind.SSN, text, match.start(), match.end())
