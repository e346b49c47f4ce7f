"""Near misses: text that looks like PII and is not, for the false-positive rate.

Look-alikes with one wrong check digit (cards, IBANs, CPFs, CNPJs, NIFs), SSNs
from ranges never issued, and the numbers ordinary messages are full of:
order and invoice numbers, dates, times, prices, versions, ISBNs, tracking
codes, postal codes and plain quantities, plus email-ish text that is not an
address. Each is embedded in an English or Portuguese sentence.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.guardrails.pii_values import (
    cnpj_digits,
    cpf_digits,
    digits,
    group,
    iban_compact,
    luhn_number,
    nif_digits,
)

__all__ = ["near_miss_cases"]

Maker = Callable[[random.Random], str]


def _bump_last(value: str) -> str:
    """``value`` with its last digit changed, so its check digit is wrong."""
    return value[:-1] + str((int(value[-1]) + 1 + len(value) % 8) % 10)


def _bad_card(separator: str) -> Maker:
    def make(rng: random.Random) -> str:
        prefix = rng.choice(["4", "51", "2221", "6011"])
        return group(_bump_last(luhn_number(rng, prefix, 16)), (4, 4, 4, 4), separator)

    return make


def _bad_iban(separator: str) -> Maker:
    def make(rng: random.Random) -> str:
        compact = iban_compact(rng, rng.choice(["PT", "DE", "GB", "FR", "ES", "BR"]))
        broken = f"{compact[:2]}{(int(compact[2:4]) + 1) % 97 + 2:02d}{compact[4:]}"
        if broken == compact:
            broken = compact[:-1] + ("1" if compact[-1] != "1" else "2")
        return separator.join(broken[i : i + 4] for i in range(0, len(broken), 4))

    return make


def _shaped(make: Maker, shape: str) -> Maker:
    def fill(rng: random.Random) -> str:
        value = shape
        for digit in _bump_last(make(rng)):
            value = value.replace("N", digit, 1)
        return value

    return fill


def _n(count: int) -> Maker:
    return lambda rng: digits(rng, count)


_MAKERS: list[Maker] = [
    _bad_card(" "),
    _bad_card("-"),
    _bad_card("."),
    _bad_card(""),
    _bad_iban(""),
    _bad_iban(" "),
    _bad_iban("-"),
    _shaped(cpf_digits, "NNN.NNN.NNN-NN"),
    _shaped(cpf_digits, "NNN NNN NNN NN"),
    _shaped(cpf_digits, "NNNNNNNNNNN"),
    _shaped(cnpj_digits, "NNNNNNNNNNNNNN"),
    _shaped(cnpj_digits, "NN.NNN.NNN/NNNN-NN"),
    _shaped(nif_digits, "NNNNNNNNN"),
    _shaped(nif_digits, "NNN NNN NNN"),
    lambda r: f"{r.choice(['000', '666', '912', '987'])}-{digits(r, 2)}-{digits(r, 4)}",
    lambda r: f"{r.randint(100, 899)}-00-{digits(r, 4)}",
    lambda r: f"order #{digits(r, 8)}",
    lambda r: f"pedido nº {digits(r, 6)}",
    lambda r: f"ticket {digits(r, 10)}",
    lambda r: f"{r.randint(2020, 2030)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    lambda r: f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{r.randint(2020, 2030)}",
    lambda r: f"{r.randint(1, 12)}/{r.randint(1, 28)}/{r.randint(2020, 2030)}",
    lambda r: f"{r.randint(1, 28):02d}.{r.randint(1, 12):02d}.{r.randint(2020, 2030)}",
    lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}",
    lambda r: f"{r.randint(7, 11):02d}:00-{r.randint(12, 19)}:30",
    lambda r: f"R$ {r.randint(1, 99)}.{digits(r, 3)}.{digits(r, 3)},{digits(r, 2)}",
    lambda r: f"US$ {r.randint(1, 999)},{digits(r, 3)}.{digits(r, 2)}",
    lambda r: f"€ {r.randint(1, 9)}.{digits(r, 3)},00",
    lambda r: f"v{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 99)}",
    lambda r: f"Python 3.{r.randint(8, 13)}.{r.randint(0, 12)}",
    lambda r: f"ISBN 978-85-{digits(r, 3)}-{digits(r, 4)}-{r.randint(0, 9)}",
    lambda r: f"ISBN 0-{digits(r, 3)}-{digits(r, 5)}-{r.randint(0, 9)}",
    lambda r: f"rastreio {r.choice(['AA', 'QB', 'LX'])}{digits(r, 9)}BR",
    lambda r: f"UPS 1Z{digits(r, 3)}AA{digits(r, 10)}",
    lambda r: f"FedEx {digits(r, 4)} {digits(r, 4)} {digits(r, 4)}",
    lambda r: f"invoice INV-{r.randint(2020, 2026)}-{digits(r, 6)}",
    lambda r: f"NF-e nº {digits(r, 3)}.{digits(r, 3)}.{digits(r, 3)}",
    lambda r: f"fatura {r.randint(2020, 2026)}/{digits(r, 6)}",
    lambda r: f"CEP {digits(r, 5)}-{digits(r, 3)}",
    lambda r: f"{r.randint(2, 99)},{digits(r, 3)} units",
    lambda r: f"{r.randint(1, 99)},{r.randint(1, 9)}%",
    lambda r: f"sala {r.randint(100, 999)}, andar {r.randint(1, 30)}",
    lambda r: f"ramal {digits(r, 4)}",
    lambda r: f"{r.randint(1000, 99999)} rows",
    lambda r: f"{r.choice(['joao', 'ana'])} at the office",
    lambda r: f"@{r.choice(['joao', 'maria'])} please review",
    lambda r: f"icon@{r.randint(2, 3)}x.png",
    lambda r: f"DDD {r.choice(['20', '23', '52'])} {digits(r, 4)} {digits(r, 4)}",
]

_EN = [
    "Reminder: {x} is due.",
    "The report for {x} looks fine, please review.",
    "Can you confirm {x}?",
    "We shipped it on schedule ({x}).",
    "Note {x}; nothing else changed",
]
_PT = [
    "Lembrete: {x} vence hoje.",
    "O relatório de {x} está ok, por favor revise.",
    "Pode confirmar {x}?",
    "Enviamos no prazo ({x}).",
    "Anote {x}; nada mais mudou",
]


def near_miss_cases(count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` (look-alike, sentence) pairs, cycling through every kind of near miss."""
    rng = random.Random(f"near-miss:{seed}")
    cases = []
    for index in range(count):
        value = _MAKERS[index % len(_MAKERS)](rng)
        templates = _EN if index % 2 == 0 else _PT
        cases.append((value, templates[(index // 2) % len(templates)].format(x=value)))
    return cases
