"""A labelled set: each kind of PII in every common layout, in English and Portuguese.

:func:`positive_cases` cycles through each kind's layouts (so every layout
appears several times) and embeds them in sentence templates; the values are
drawn from a seeded generator, so the set is the same on every run. Each case
names the sensitive strings that must not survive redaction.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from tests.guardrails.pii_values import (
    IBAN_SHAPES,
    Entry,
    cnpj_digits,
    cpf_digits,
    digits,
    group,
    iban_compact,
    luhn_number,
    nif_digits,
    ssn_parts,
)

__all__ = ["KINDS", "PiiCase", "positive_cases"]


@dataclass(frozen=True, slots=True)
class PiiCase:
    """One sentence, the kind of PII it holds, and the strings that must disappear."""

    kind: str
    text: str
    secrets: tuple[str, ...]


Layout = Callable[[random.Random], Entry]

_FIRST = ["joao", "maria", "ana", "pedro", "beatriz", "john", "emily", "carlos", "sofia", "rui"]
_LAST = ["silva", "santos", "oliveira", "costa", "smith", "ferreira", "pereira", "almeida"]
_DOMAINS = [
    ("gmail", "com"),
    ("empresa", "com", "br"),
    ("uol", "com", "br"),
    ("corp", "co", "uk"),
    ("sapo", "pt"),
    ("acme", "io"),
]


def _local(rng: random.Random) -> str:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return rng.choice([f"{first}.{last}{rng.randint(1, 99)}", f"{first}_{last}", f"{first}{last}"])


def _spelled_email(at: str, dot: str) -> Layout:
    def layout(rng: random.Random) -> Entry:
        local, labels = _local(rng), rng.choice(_DOMAINS)
        value = local + at + dot.join(labels)
        return value, (value, local)

    return layout


def _plain_email(shape: Callable[[str, str], str]) -> Layout:
    def layout(rng: random.Random) -> Entry:
        local, labels = _local(rng), ".".join(rng.choice(_DOMAINS))
        value = shape(local, labels)
        return value, (value, value.split("@")[0].split("+")[0].strip())

    return layout


_EMAIL: list[Layout] = [
    _plain_email(lambda local, domain: f"{local}@{domain}"),
    _plain_email(lambda local, domain: f"{local}@{domain}".upper()),
    _plain_email(lambda local, domain: f"{local}+news@{domain}"),
    _plain_email(lambda local, domain: f"{local}@mail.eu.{domain}"),
    _plain_email(lambda local, domain: f"{local} @ {domain}"),
    _spelled_email(" (at) ", " (dot) "),
    _spelled_email(" [at] ", " [dot] "),
    _spelled_email("(at)", "(dot)"),
    _spelled_email(" (AT) ", " (DOT) "),
    _spelled_email(" {at} ", " {dot} "),
    _spelled_email(" (arroba) ", " (ponto) "),
    _spelled_email(" [at] ", "."),
]


def _phone(shape: str) -> Layout:
    """A layout from ``shape``: D is a Brazilian DDD, P a PT/US area, N a random digit."""

    def layout(rng: random.Random) -> Entry:
        value = shape.replace("D", str(rng.choice([11, 21, 31, 41, 47, 51, 61, 71, 81, 85])))
        value = value.replace("P", str(rng.choice([201, 312, 415, 646, 702, 917])))
        while "N" in value:
            value = value.replace("N", digits(rng, 1), 1)
        return value, (value,)

    return layout


_PHONE: list[Layout] = [
    _phone(shape)
    for shape in (
        "+55 D 9NNNN-NNNN",
        "D9NNNNNNNN",
        "(D) 9NNNN-NNNN",
        "55D9NNNNNNNN",
        "+55 (D) 9NNNN-NNNN",
        "+55D9NNNNNNNN",
        "D 9NNNN NNNN",
        "(D) 3NNN-NNNN",
        "+351 91N NNN NNN",
        "91NNNNNNN",
        "93N NNN NNN",
        "+35196NNNNNNN",
        "(P) 5N5-NNNN",
        "P-55N-NNNN",
        "+1 P 555 NNNN",
        "P.555.NNNN",
        "+1 (P) 4N6-NNNN",
        "1-P-555-NNNN",
    )
]

_CARD_PREFIXES = [("4", 16), ("5", 16), ("2", 16), ("37", 15), ("34", 15), ("6011", 16)]


def _card_number(rng: random.Random, separator: str) -> str:
    prefix, length = rng.choice(_CARD_PREFIXES)
    if prefix == "5":
        prefix = str(rng.randint(51, 55))
    elif prefix == "2":
        prefix = str(rng.randint(2221, 2720))
    number = luhn_number(rng, prefix, length)
    return group(number, (4, 6, 5) if length == 15 else (4, 4, 4, 4), separator)


def _card(separator: str, code_shape: str | None = None) -> Layout:
    def layout(rng: random.Random) -> Entry:
        number = _card_number(rng, separator)
        if code_shape is None:
            return number, (number,)
        code = digits(rng, 4 if "CVC" in code_shape else 3)
        while code.startswith("0"):
            code = digits(rng, len(code))
        expiry = f"{rng.randint(1, 12):02d}/{rng.randint(27, 31)}"
        text = code_shape.format(card=number, code=code, expiry=expiry)
        return text, (number, code)

    return layout


_CARD: list[Layout] = [
    _card(" "),
    _card("-"),
    _card("."),
    _card(""),
    _card(" ", "{card} cvv {code}"),
    _card("", "{card}, CVC: {code}"),
    _card(".", "{card} validade {expiry} CVV {code}"),
    _card("-", "{card} exp {expiry} {code}"),
    _card(" ", "{card} {code}"),
    _card("", "{card}, código de segurança {code}"),
    _card(" ", "{card} (CVV2: {code})"),
]


def _iban(separator: str, country: str) -> Layout:
    def layout(rng: random.Random) -> Entry:
        compact = iban_compact(rng, country)
        value = separator.join(compact[i : i + 4] for i in range(0, len(compact), 4))
        return value, (value,)

    return layout


_IBAN: list[Layout] = [
    _iban(separator, country) for separator in ("", " ", "-") for country in sorted(IBAN_SHAPES)
]


def _formatted(make: Callable[[random.Random], str], shape: str, prefix: str = "") -> Layout:
    """A layout writing ``make``'s digits into ``shape`` (``N`` per digit) after ``prefix``."""

    def layout(rng: random.Random) -> Entry:
        value = shape
        for digit in make(rng):
            value = value.replace("N", digit, 1)
        return prefix + value, (value,)

    return layout


_CPF: list[Layout] = [
    _formatted(cpf_digits, shape)
    for shape in (
        "NNN.NNN.NNN-NN",
        "NNNNNNNNNNN",
        "NNN NNN NNN NN",
        "NNNNNNNNN-NN",
        "NNN NNN NNN-NN",
    )
]
_CNPJ: list[Layout] = [
    _formatted(cnpj_digits, shape)
    for shape in ("NN.NNN.NNN/NNNN-NN", "NNNNNNNNNNNNNN", "NNNNNNNN/NNNN-NN", "NNNNNNNNNNNNNN")
]


def _ssn_digits(rng: random.Random) -> str:
    return "".join(ssn_parts(rng))


_SSN: list[Layout] = [
    _formatted(_ssn_digits, shape, prefix)
    for shape, prefix in (
        ("NNN-NN-NNNN", ""),
        ("NNN NN NNNN", ""),
        ("NNN-NN-NNNN", "SSN: "),
        ("NNN NN NNNN", "ssn "),
        ("NNNNNNNNN", "SSN#"),
        ("NNNNNNNNN", "social security number "),
        ("NNN.NN.NNNN", "SSN "),
    )
]
_NIF: list[Layout] = [
    _formatted(make, shape, prefix)
    for make, shape, prefix in (
        (nif_digits, "NNNNNNNNN", "NIF "),
        (nif_digits, "NNN NNN NNN", "NIF: "),
        (nif_digits, "NNNNNNNNN", "contribuinte nº "),
        (nif_digits, "NNN NNN NNN", "número de contribuinte "),
        (nif_digits, "NNNNNNNNN", ""),
        (nif_digits, "NNNNNNNNN", "PT"),
        (lambda rng: nif_digits(rng, "5"), "NNNNNNNNN", "NIPC "),
    )
]

#: Every kind in the set and its layouts.
KINDS: dict[str, list[Layout]] = {
    "email": _EMAIL,
    "phone": _PHONE,
    "credit_card": _CARD,
    "iban": _IBAN,
    "cpf": _CPF,
    "cnpj": _CNPJ,
    "ssn": _SSN,
    "nif": _NIF,
}

_EN = [
    "Please update my details to {x} before Friday.",
    "The customer wrote {x} in the form, is that right?",
    "Hi, it's {x}. Thanks!",
    "Can you check whether {x} is correct for the refund?",
    "{x} is what we have on file for her.",
    "I typed ({x}) but the page rejected it",
]
_PT = [
    "Meus dados: {x}, pode conferir?",
    "Favor atualizar o cadastro para {x} até sexta.",
    "O cliente informou {x} no formulário.",
    "Segue: {x}.",
    "({x}) foi o que ele passou por telefone",
    "Oi! É {x}; obrigado.",
]


def positive_cases(count: int, seed: int) -> list[PiiCase]:
    """``count`` cases per kind, alternating English and Portuguese sentences."""
    cases = []
    for kind, layouts in KINDS.items():
        rng = random.Random(f"{kind}:{seed}")
        for index in range(count):
            text, secrets = layouts[index % len(layouts)](rng)
            templates = _EN if index % 2 == 0 else _PT
            sentence = templates[(index // 2) % len(templates)].format(x=text)
            cases.append(PiiCase(kind=kind, text=sentence, secrets=secrets))
    return cases
