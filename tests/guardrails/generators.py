"""Seeded generators of valid PII values, with their own check-digit code.

The check digits are computed here from the published algorithms, not with
the library's validators, so the recall tests do not grade the code against
itself.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import string
from collections.abc import Callable

__all__ = ["GENERATORS"]

Generator = Callable[[random.Random], str]


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(count))


def _luhn_complete(partial: str) -> str:
    """``partial`` plus the Luhn check digit that makes it valid."""
    total = 0
    for index, char in enumerate(reversed(partial)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return partial + str(-total % 10)


def _group(value: str, sizes: tuple[int, ...], separator: str) -> str:
    parts, position = [], 0
    for size in sizes:
        parts.append(value[position : position + size])
        position += size
    return separator.join(parts)


def card(rng: random.Random) -> str:
    """A Visa, Mastercard, Amex or Discover number, in one of several layouts."""
    issuer = rng.choice(["visa", "mastercard", "mastercard2", "amex", "discover"])
    prefix = {
        "visa": "4",
        "mastercard": str(rng.randint(51, 55)),
        "mastercard2": str(rng.randint(2221, 2720)),
        "amex": rng.choice(["34", "37"]),
        "discover": "6011",
    }[issuer]
    length = 15 if issuer == "amex" else 16
    number = _luhn_complete(prefix + _digits(rng, length - len(prefix) - 1))
    sizes = (4, 6, 5) if issuer == "amex" else (4, 4, 4, 4)
    return _group(number, sizes, rng.choice(["", " ", "-"])) if rng.random() < 0.8 else number


_IBAN_BBAN: dict[str, str] = {  # n: digit, a: upper letter, c: alphanumeric
    "DE": "n" * 18,
    "GB": "aaaa" + "n" * 14,
    "FR": "n" * 10 + "c" * 11 + "nn",
    "ES": "n" * 20,
    "IT": "a" + "n" * 10 + "c" * 12,
    "NL": "aaaa" + "n" * 10,
    "PT": "n" * 21,
    "BR": "n" * 23 + "a" + "c",
    "CH": "n" * 5 + "c" * 12,
    "NO": "n" * 11,
    "BE": "n" * 12,
    "PL": "n" * 24,
}


def _iban_check_digits(country: str, bban: str) -> str:
    numeric = "".join(str(int(char, 36)) for char in bban + country + "00")
    return f"{98 - int(numeric) % 97:02d}"


def iban(rng: random.Random) -> str:
    """A valid IBAN of one of twelve countries, compact or in groups of four."""
    country = rng.choice(sorted(_IBAN_BBAN))
    alphabet = {"n": string.digits, "a": string.ascii_uppercase}
    bban = "".join(
        rng.choice(alphabet.get(kind, string.digits + string.ascii_uppercase))
        for kind in _IBAN_BBAN[country]
    )
    compact = country + _iban_check_digits(country, bban) + bban
    if rng.random() < 0.5:
        return compact
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _mod11_digit(digits: str, weights: list[int]) -> str:
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return "0" if remainder < 2 else str(11 - remainder)


def cpf(rng: random.Random) -> str:
    """A valid CPF, formatted ``###.###.###-##`` or as 11 bare digits."""
    base = _digits(rng, 9)
    while len(set(base)) == 1:
        base = _digits(rng, 9)
    base += _mod11_digit(base, list(range(10, 1, -1)))
    base += _mod11_digit(base, list(range(11, 1, -1)))
    if rng.random() < 0.6:
        return f"{base[:3]}.{base[3:6]}.{base[6:9]}-{base[9:]}"
    return base


def cnpj(rng: random.Random) -> str:
    """A valid CNPJ, formatted ``##.###.###/####-##`` or as 14 bare digits."""
    base = _digits(rng, 8) + rng.choice(["0001", "0002", _digits(rng, 4)])
    base += _mod11_digit(base, [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    base += _mod11_digit(base, [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    if rng.random() < 0.6:
        return f"{base[:2]}.{base[2:5]}.{base[5:8]}/{base[8:12]}-{base[12:]}"
    return base


_NAMES = ["joao", "maria", "ana.paula", "pedro_h", "j.smith", "alice", "bob+news", "lucas.m"]
_DOMAINS = ["gmail.com", "exemplo.com.br", "empresa.com", "mail.uol.com.br", "corp.co.uk"]


def email(rng: random.Random) -> str:
    """An email address with a realistic local part and domain."""
    return f"{rng.choice(_NAMES)}{rng.randint(1, 999)}@{rng.choice(_DOMAINS)}"


_DDDS = [11, 12, 19, 21, 27, 31, 41, 47, 51, 61, 62, 71, 81, 85, 91, 98]


def br_phone(rng: random.Random) -> str:
    """A Brazilian mobile or landline number in one of the usual layouts."""
    ddd = rng.choice(_DDDS)
    head = "9" + _digits(rng, 4) if rng.random() < 0.7 else str(rng.randint(2, 5)) + _digits(rng, 3)
    tail = _digits(rng, 4)
    return rng.choice(
        [
            f"+55 ({ddd}) {head}-{tail}",
            f"+55 {ddd} {head}-{tail}",
            f"({ddd}) {head}-{tail}",
            f"{ddd} {head} {tail}",
            f"{ddd} {head}-{tail}",
            f"+55{ddd}{head}{tail}",
        ]
    )


def us_phone(rng: random.Random) -> str:
    """A North American number in one of the usual layouts."""
    area = f"{rng.randint(2, 9)}{_digits(rng, 2)}"
    exchange = f"{rng.randint(2, 9)}{_digits(rng, 2)}"
    line = _digits(rng, 4)
    return rng.choice(
        [
            f"({area}) {exchange}-{line}",
            f"{area}-{exchange}-{line}",
            f"{area}.{exchange}.{line}",
            f"+1 {area} {exchange} {line}",
            f"+1 ({area}) {exchange}-{line}",
            f"1-{area}-{exchange}-{line}",
        ]
    )


def ssn(rng: random.Random) -> str:
    """A US SSN that can have been issued (area not 000, 666 or 9xx)."""
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def ip_address(rng: random.Random) -> str:
    """An IPv4 address (70 %) or an IPv6 address, compressed or exploded."""
    if rng.random() < 0.7:
        return ".".join(str(rng.randint(0, 255)) for _ in range(4))
    bits = (rng.getrandbits(128) & ~(0xFFFF << 112)) | (0x2001 << 112)
    address = ipaddress.IPv6Address(bits)
    return address.compressed if rng.random() < 0.7 else address.exploded


def _token(rng: random.Random, alphabet: str, count: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(count))


def _jwt(rng: random.Random) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    signature = _token(rng, string.ascii_letters + string.digits + "-_", 43)
    return (
        f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': rng.randint(1, 10**6)})}.{signature}"
    )


def secret(rng: random.Random) -> str:
    """An API key or token in one of the vendor shapes, or a keyed hex token."""
    alnum = string.ascii_letters + string.digits
    return rng.choice(
        [
            "sk-" + _token(rng, alnum, 48),
            "sk-proj-" + _token(rng, alnum + "_-", 64),
            "AKIA" + _token(rng, string.ascii_uppercase + string.digits, 16),
            "ghp_" + _token(rng, alnum, 36),
            f"xoxb-{_digits(rng, 12)}-{_digits(rng, 12)}-{_token(rng, alnum, 24)}",
            _jwt(rng),
            "sk_live_" + _token(rng, alnum, 24),
        ]
    )


#: One value generator per kind name (``phone`` mixes Brazilian and US numbers).
GENERATORS: dict[str, Generator] = {
    "credit_card": card,
    "iban": iban,
    "cpf": cpf,
    "cnpj": cnpj,
    "email": email,
    "phone_br": br_phone,
    "phone_us": us_phone,
    "ssn": ssn,
    "ip_address": ip_address,
    "secret": secret,
}
