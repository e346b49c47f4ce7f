"""Valid PII values in the layouts people really type, from a seeded generator.

Check digits are computed here from the published algorithms (Luhn, ISO 7064
mod 97, the CPF/CNPJ and NIF mod-11 rules), not with the library's validators,
so the labelled set does not grade the detectors against themselves.

Each ``*_entry`` function returns what goes into a sentence and the sensitive
strings that must not survive redaction: the value itself and, where a partial
leak is possible (an email's local part, a card's security code), that part.
"""

from __future__ import annotations

import random
import string

__all__ = [
    "Entry",
    "cnpj_digits",
    "cpf_digits",
    "digits",
    "iban_compact",
    "luhn_number",
    "nif_digits",
]

#: What a sentence holds and the sensitive strings inside it.
Entry = tuple[str, tuple[str, ...]]


def digits(rng: random.Random, count: int) -> str:
    """``count`` random decimal digits."""
    return "".join(rng.choice(string.digits) for _ in range(count))


def _luhn_digit(partial: str) -> str:
    total = 0
    for index, char in enumerate(reversed(partial)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str(-total % 10)


def luhn_number(rng: random.Random, prefix: str, length: int) -> str:
    """A ``length``-digit number starting with ``prefix`` whose Luhn sum is right."""
    partial = prefix + digits(rng, length - len(prefix) - 1)
    return partial + _luhn_digit(partial)


#: BBAN shapes per country: n digit, a upper-case letter, c letter or digit.
IBAN_SHAPES: dict[str, str] = {
    "PT": "n" * 21,
    "BR": "n" * 23 + "a" + "c",
    "DE": "n" * 18,
    "GB": "aaaa" + "n" * 14,
    "FR": "n" * 10 + "c" * 11 + "nn",
    "ES": "n" * 20,
    "IT": "a" + "n" * 10 + "c" * 12,
    "NL": "aaaa" + "n" * 10,
}


def iban_compact(rng: random.Random, country: str) -> str:
    """A valid compact IBAN of ``country`` (one of :data:`IBAN_SHAPES`)."""
    alphabets = {"n": string.digits, "a": string.ascii_uppercase}
    bban = "".join(
        rng.choice(alphabets.get(kind, string.digits + string.ascii_uppercase))
        for kind in IBAN_SHAPES[country]
    )
    numeric = "".join(str(int(char, 36)) for char in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def _mod11(body: str, weights: range | tuple[int, ...]) -> str:
    remainder = sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11
    return "0" if remainder < 2 else str(11 - remainder)


def cpf_digits(rng: random.Random) -> str:
    """Eleven digits of a valid CPF (digits not all equal)."""
    body = digits(rng, 9)
    while len(set(body)) == 1:
        body = digits(rng, 9)
    body += _mod11(body, range(10, 1, -1))
    return body + _mod11(body, range(11, 1, -1))


def cnpj_digits(rng: random.Random) -> str:
    """Fourteen digits of a valid CNPJ (head office ``0001`` or a branch)."""
    body = digits(rng, 8) + rng.choice(["0001", "0002", digits(rng, 4)])
    body += _mod11(body, (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2))
    return body + _mod11(body, (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2))


def nif_digits(rng: random.Random, first: str = "") -> str:
    """Nine digits of a valid Portuguese NIF, starting with ``first`` (else 1, 2 or 5)."""
    head = first or rng.choice("125")
    body = head + digits(rng, 8 - len(head))
    return body + _mod11(body, range(9, 1, -1))


def group(value: str, sizes: tuple[int, ...], separator: str) -> str:
    """``value`` cut into groups of ``sizes`` joined by ``separator``."""
    parts, position = [], 0
    for size in sizes:
        parts.append(value[position : position + size])
        position += size
    return separator.join(parts)


def ssn_parts(rng: random.Random) -> tuple[str, str, str]:
    """Area, group and serial of an SSN that can be issued."""
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"
