"""Realistic English and Portuguese sentences: with PII, and without any.

``positive_samples`` embeds generated values in sentence templates; the
``negative_sentences`` are ordinary messages full of numbers that must not be
taken for PII: dates, times, order ids, amounts, invoices, CEPs, percentages,
product codes, versions, and look-alikes with a wrong check digit.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

from tests.guardrails.generators import GENERATORS

__all__ = ["LABELS", "negative_sentences", "positive_samples"]

#: How each kind is named in English and Portuguese sentences.
LABELS: dict[str, tuple[str, str]] = {
    "credit_card": ("card number", "número do cartão"),
    "iban": ("IBAN", "IBAN"),
    "cpf": ("CPF", "CPF"),
    "cnpj": ("CNPJ", "CNPJ"),
    "email": ("email", "e-mail"),
    "phone_br": ("phone", "celular"),
    "phone_us": ("phone number", "telefone"),
    "ssn": ("SSN", "SSN"),
    "ip_address": ("server IP", "IP do servidor"),
    "secret": ("API key", "chave de API"),
    "secret_keyed": ("token", "senha"),
}

_EN = [
    "Please update my {label} to {value} before Friday.",
    "My {label}: {value}",
    "The customer wrote {value} in the form, is that right?",
    "Can you check whether {value} is valid for the refund?",
    "{value} is the {label} we have on file.",
    "Hi, the {label} is {value}. Thanks!",
    "I typed ({value}) but the page rejected it",
]
_PT = [
    "Meu {label} é {value}, pode conferir?",
    "Favor atualizar o {label} para {value} até sexta.",
    "O cliente informou {value} no cadastro.",
    "Segue o {label}: {value}.",
    "({value}) foi o que ele passou por telefone",
    "Oi! {label} {value}; obrigado.",
    "Não consigo pagar com {value}, o que faço?",
]
_KEYED_EN = ["api_key={value}", "Authorization: Bearer {value}", "my token is {value}."]
_KEYED_PT = ["minha senha: {value}", 'chave de API "{value}"', "token: {value}"]


def _keyed_token(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "".join(rng.choice("0123456789abcdef") for _ in range(rng.choice([32, 40, 64])))
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))


def positive_samples(kind: str, count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` (sentence, value) pairs for ``kind``, half English, half Portuguese."""
    rng = random.Random(f"{kind}-{seed}")
    samples = []
    for index in range(count):
        english = index % 2 == 0
        if kind == "secret_keyed":
            value = _keyed_token(rng)
            template = rng.choice(_KEYED_EN if english else _KEYED_PT)
        else:
            value = GENERATORS[kind](rng)
            template = rng.choice(_EN if english else _PT)
        label = LABELS[kind][0 if english else 1]
        samples.append((template.format(label=label, value=value), value))
    return samples


def _n(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(count))


def _broken_last_digit(value: str) -> str:
    return value[:-1] + str((int(value[-1]) + rng_shift(value)) % 10)


def rng_shift(value: str) -> int:
    """A deterministic non-zero shift (1-9) for breaking a check digit."""
    return sum(map(ord, value)) % 9 + 1


def _ean13(rng: random.Random) -> str:
    body = rng.choice(["789", "400", "412", "450", "560", "590"]) + _n(rng, 9)
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str(-total % 10)


def _invalid_iban(rng: random.Random) -> str:
    value = GENERATORS["iban"](rng)
    compact = value.replace(" ", "")
    broken = compact[:2] + f"{(int(compact[2:4]) + rng_shift(compact)) % 97 + 2:02d}" + compact[4:]
    return broken if broken != compact else compact[:2] + "00" + compact[4:]


_FACTS: list[Callable[[random.Random], str]] = [
    lambda r: f"{r.randint(2020, 2030)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    lambda r: f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{r.randint(2020, 2030)}",
    lambda r: f"{r.randint(1, 12)}/{r.randint(1, 28)}/{r.randint(2020, 2030)}",
    lambda r: f"{r.randint(1, 28):02d}.{r.randint(1, 12):02d}.{r.randint(2020, 2030)}",
    lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}",
    lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
    lambda r: f"{r.randint(7, 11):02d}:00-{r.randint(12, 19)}:30",
    lambda r: f"pedido {_n(r, 6)}",
    lambda r: f"order #{_n(r, 8)}",
    lambda r: f"protocolo {r.randint(2020, 2026)}{_n(r, 9)}",
    lambda r: f"R$ {r.randint(1, 999)}.{_n(r, 3)},{_n(r, 2)}",
    lambda r: f"R$ {r.randint(1, 99)}.{_n(r, 3)}.{_n(r, 3)},{_n(r, 2)}",
    lambda r: f"US$ {r.randint(1, 999)},{_n(r, 3)}.{_n(r, 2)}",
    lambda r: f"€ {r.randint(1, 9)}.{_n(r, 3)},00",
    lambda r: f"NF-e nº {_n(r, 3)}.{_n(r, 3)}.{_n(r, 3)}",
    lambda r: f"invoice INV-{r.randint(2020, 2026)}-{_n(r, 6)}",
    lambda r: f"CEP {_n(r, 5)}-{_n(r, 3)}",
    lambda r: f"{r.randint(1, 99)},{r.randint(1, 9)}%",
    lambda r: f"{r.randint(1, 99)}.{_n(r, 2)}%",
    lambda r: (
        f"SKU {r.choice(string.ascii_uppercase)}{r.choice(string.ascii_uppercase)}-{_n(r, 4)}-X"
    ),
    lambda r: f"EAN {_ean13(r)}",
    lambda r: f"v{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 99)}",
    lambda r: f"Python 3.{r.randint(8, 13)}.{r.randint(0, 12)}",
    lambda r: f"{r.randint(2, 5000)} unidades",
    lambda r: f"ISBN 978-85-{_n(r, 3)}-{_n(r, 4)}-{r.randint(0, 9)}",
    lambda r: f"-23.{_n(r, 4)}, -46.{_n(r, 4)}",
    lambda r: f"agência {_n(r, 4)}-{r.randint(0, 9)}, conta {_n(r, 5)}-{r.randint(0, 9)}",
    lambda r: f"rastreio {r.choice(['AA', 'QB', 'LX'])}{_n(r, 9)}BR",
    lambda r: f"{r.randint(1, 3)},{_n(r, 2)} m",
    lambda r: _broken_last_digit(GENERATORS["credit_card"](r)),
    lambda r: _broken_last_digit(GENERATORS["cpf"](r)),
    lambda r: _broken_last_digit(GENERATORS["cnpj"](r)),
    _invalid_iban,
    lambda r: f"{r.choice(['000', '666', '912'])}-{_n(r, 2)}-{_n(r, 4)}",
    lambda r: f"{r.randint(1000, 99999)}",
    lambda r: f"sala {r.randint(100, 999)}, andar {r.randint(1, 30)}",
]

_NEGATIVE_EN = [
    "Reminder: {a} and {b}.",
    "The report for {a} shows {b}, please review.",
    "Can you confirm {a}? Also check {b}.",
    "We shipped {a} on schedule ({b}).",
    "Note {a}; the total was {b}",
]
_NEGATIVE_PT = [
    "Lembrete: {a} e {b}.",
    "O relatório de {a} mostra {b}, por favor revise.",
    "Pode confirmar {a}? Veja também {b}.",
    "Enviamos {a} no prazo ({b}).",
    "Anote {a}; o total foi {b}",
]


def negative_sentences(count: int, seed: int) -> list[str]:
    """``count`` ordinary sentences full of numbers and no PII at all."""
    rng = random.Random(seed)
    sentences = []
    for index in range(count):
        template = rng.choice(_NEGATIVE_EN if index % 2 == 0 else _NEGATIVE_PT)
        first = _FACTS[index % len(_FACTS)](rng)
        second = rng.choice(_FACTS)(rng)
        sentences.append(template.format(a=first, b=second))
    return sentences
