"""Check digits and number-plan rules that make PII detection precise.

Every function takes the bare digits (or, for IBANs, the compact upper-case
string) and answers whether it is a well-formed identifier. None of them
looks at context; the detectors decide what text is a candidate.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "IBAN_LENGTHS",
    "card_issuer",
    "cnpj_valid",
    "cpf_valid",
    "ean13_valid",
    "iban_valid",
    "luhn_valid",
    "nif_valid",
    "ssn_valid",
]

#: IBAN length per country (SWIFT IBAN registry): the EU/EEA, the UK,
#: Switzerland, Norway, Brazil and the other countries that publish one.
IBAN_LENGTHS: Final[dict[str, int]] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip

# (issuer, lowest prefix, highest prefix, allowed lengths); prefixes compare as
# integers of the same number of digits as the bounds.
_CARD_RANGES: Final[tuple[tuple[str, int, int, frozenset[int]], ...]] = (
    ("visa", 4, 4, frozenset({13, 16, 19})),
    ("mastercard", 51, 55, frozenset({16})),
    ("mastercard", 2221, 2720, frozenset({16})),
    ("amex", 34, 34, frozenset({15})),
    ("amex", 37, 37, frozenset({15})),
    ("diners", 300, 305, frozenset(range(14, 20))),
    ("diners", 36, 36, frozenset(range(14, 20))),
    ("diners", 38, 39, frozenset(range(14, 20))),
    ("discover", 6011, 6011, frozenset(range(16, 20))),
    ("discover", 644, 649, frozenset(range(16, 20))),
    ("discover", 65, 65, frozenset(range(16, 20))),
    ("jcb", 3528, 3589, frozenset(range(16, 20))),
    ("unionpay", 62, 62, frozenset(range(16, 20))),
    ("maestro", 50, 50, frozenset(range(13, 20))),
    ("maestro", 56, 58, frozenset(range(13, 20))),
    ("hipercard", 606282, 606282, frozenset({16, 19})),
    ("hipercard", 3841, 3841, frozenset({16, 19})),
)

_CPF_WEIGHTS: Final = (range(10, 1, -1), range(11, 1, -1))
_CNPJ_WEIGHTS: Final = (
    (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2),
    (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2),
)


def luhn_valid(digits: str) -> bool:
    """Whether ``digits`` passes the Luhn (mod 10) checksum.

    Args:
        digits: Decimal digits only.

    Returns:
        ``True`` when the Luhn sum is a multiple of 10.
    """
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def ean13_valid(digits: str) -> bool:
    """Whether ``digits`` is an EAN-13 product barcode with a correct check digit.

    Args:
        digits: Decimal digits only.

    Returns:
        ``True`` for 13 digits whose weighted (1, 3, 1...) sum is a multiple of 10.
    """
    if len(digits) != 13:
        return False
    return sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0


def card_issuer(digits: str) -> str | None:
    """The card network whose IIN range and length ``digits`` fits, if any.

    Args:
        digits: The card number's decimal digits, no separators.

    Returns:
        ``"visa"``, ``"mastercard"``, ``"amex"``... or ``None`` when no known
        network issues numbers with that prefix and length.
    """
    for issuer, low, high, lengths in _CARD_RANGES:
        if len(digits) not in lengths:
            continue
        prefix = int(digits[: len(str(low))])
        if low <= prefix <= high:
            return issuer
    return None


def iban_valid(compact: str) -> bool:
    """Whether ``compact`` is an IBAN: known country, its length, mod-97 == 1.

    Args:
        compact: The IBAN in upper case without spaces.

    Returns:
        ``True`` for a well-formed IBAN with a correct checksum.
    """
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    if not compact.isascii() or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


def _check_digit(digits: str, weights: tuple[int, ...] | range) -> int:
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11
    return 0 if remainder < 2 else 11 - remainder


def cpf_valid(digits: str) -> bool:
    """Whether ``digits`` is a CPF with both check digits right.

    Args:
        digits: Exactly 11 decimal digits, no punctuation.

    Returns:
        ``True`` when both check digits match and the digits are not all equal
        (``111.111.111-11`` passes the arithmetic but is never issued).
    """
    if len(digits) != 11 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    first = _check_digit(digits[:9], _CPF_WEIGHTS[0])
    second = _check_digit(digits[:10], _CPF_WEIGHTS[1])
    return digits[9:] == f"{first}{second}"


def cnpj_valid(digits: str) -> bool:
    """Whether ``digits`` is a CNPJ with both check digits right.

    Args:
        digits: Exactly 14 decimal digits, no punctuation.

    Returns:
        ``True`` when both check digits match and the digits are not all equal.
    """
    if len(digits) != 14 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    first = _check_digit(digits[:12], _CNPJ_WEIGHTS[0])
    second = _check_digit(digits[:13], _CNPJ_WEIGHTS[1])
    return digits[12:] == f"{first}{second}"


#: First digits (or two-digit prefixes) of Portuguese tax numbers in use:
#: people 1-3 and 45, companies 5, public bodies 6, sole traders 8, and the
#: 7x/9x series for estates, funds, condominiums and non-residents.
_NIF_PREFIXES: Final = frozenset("12356789")
_NIF_PREFIXES_TWO: Final = frozenset({"45"})


def nif_valid(digits: str) -> bool:
    """Whether ``digits`` is a Portuguese NIF/NIPC with a correct check digit.

    Args:
        digits: Exactly 9 decimal digits, no punctuation.

    Returns:
        ``True`` when the number starts as issued numbers do and its last
        digit is the mod-11 check digit of the first eight (weights 9 to 2,
        a remainder below 2 giving 0).
    """
    if len(digits) != 9 or not digits.isascii() or not digits.isdigit():
        return False
    if digits[0] not in _NIF_PREFIXES and digits[:2] not in _NIF_PREFIXES_TWO:
        return False
    remainder = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) % 11
    return int(digits[8]) == (0 if remainder < 2 else 11 - remainder)


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """Whether the three parts of a US SSN can have been issued.

    Args:
        area: The first three digits.
        group: The middle two digits.
        serial: The last four digits.

    Returns:
        ``False`` for area 000, 666 or 900-999, group 00 or serial 0000.
    """
    if area in {"000", "666"} or area.startswith("9"):
        return False
    return group != "00" and serial != "0000"
