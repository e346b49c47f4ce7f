"""PII recall and false positives, measured on labelled sets and printed as a table.

The labelled set (:mod:`tests.guardrails.pii_cases`) holds every kind of PII in
the layouts people type, in English and Portuguese sentences; the near misses
(:mod:`tests.guardrails.pii_near_misses`) look like PII and are not. A case is
found when none of its sensitive strings survives :func:`redact`, compared as
written, case-insensitively and as bare digits, so a value left partly in
place (``123.456.789-[CPF]``) is a miss. A near miss is a false positive when
anything in it is flagged.

Measured with seed 2026 (60 cases per kind, 480 near misses): recall 1.000 for
every kind, 1 false positive (0.21 %), a bare 14-digit CNPJ look-alike with a
wrong check digit that is a Luhn-valid Diners number. Over seeds 1-8 with 200
cases per kind and 1,600 near misses each, recall stayed 1.000 and false
positives were 0-5 per 1,600 (at most 0.31 %): bare eleven-digit CPF
look-alikes with a wrong check digit taken for Brazilian mobiles written
without separators, and a 14-digit CNPJ look-alike taken for a Maestro card.

The generated-values tests further down measure :func:`find_pii` with the
exact kind and span: with seed 2026 (300 samples per kind), 1.000 for every
kind. With seed 7 and 400 samples, secrets given only by context (a keyword
and a random token) reached 0.9975: a token without any digit is not taken for
a secret.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from neuralbridge.guardrails import PiiKind, find_pii, redact
from tests.guardrails.leaks import leaks
from tests.guardrails.pii_cases import KINDS, positive_cases
from tests.guardrails.pii_near_misses import near_miss_cases
from tests.guardrails.sentences import positive_samples

SEED = 2026
CASES_PER_KIND = 60
NEAR_MISSES = 8 * CASES_PER_KIND
MIN_RECALL = 0.95
MAX_FALSE_POSITIVE_RATE = 0.02
SAMPLES_PER_KIND = 300


def _table(found: Counter[str], total: Counter[str], flagged: int, negatives: int) -> str:
    lines = [f"{'type':<12} {'positives':>9} {'found':>6} {'recall':>7}"]
    lines += [
        f"{kind:<12} {total[kind]:>9} {found[kind]:>6} {found[kind] / total[kind]:>7.3f}"
        for kind in KINDS
    ]
    lines.append(
        f"near misses {negatives:>10}, false positives {flagged} ({flagged / negatives:.2%})"
    )
    return "\n".join(lines)


def test_redact_labelled_set_meets_recall_and_false_positive_thresholds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every kind is redacted in >= 95 % of its cases and <= 2 % of near misses are flagged."""
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for case in positive_cases(CASES_PER_KIND, SEED):
        total[case.kind] += 1
        redacted = redact(case.text).text
        found[case.kind] += not any(leaks(redacted, secret) for secret in case.secrets)
    negatives = near_miss_cases(NEAR_MISSES, SEED)
    flagged = sum(bool(find_pii(sentence)) for _, sentence in negatives)
    with capsys.disabled():
        print("\n" + _table(found, total, flagged, len(negatives)))
    recall = {kind: found[kind] / total[kind] for kind in KINDS}
    assert {kind: value for kind, value in recall.items() if value < MIN_RECALL} == {}
    assert flagged / len(negatives) <= MAX_FALSE_POSITIVE_RATE


@pytest.mark.parametrize(
    ("redacted", "secret"),
    [
        ("CPF 123.456.789-[CPF]", "123.456.789-09"),
        ("card [CREDIT_CARD] 1111 1111", "4111 1111 1111 1111"),
        ("mail JOAO.SILVA (at) [EMAIL]", "joao.silva"),
        ("cvv 123, thanks", "123"),
        ("IBAN PT50 0002 0123 [IBAN]", "PT50000201231234567890154"),
    ],
)
def test_leaks_value_partly_left_counts_as_miss(redacted: str, secret: str) -> None:
    """A value left whole, in another case, or partly (as digits) is a miss."""
    assert leaks(redacted, secret)


@pytest.mark.parametrize(
    ("redacted", "secret"),
    [
        ("CPF [CPF], pedido 12", "123.456.789-09"),
        ("card [CREDIT_CARD] 12/28 cvv [CARD_CODE]", "4111 1111 1111 1111"),
        ("order 1234 cvv [CARD_CODE]", "123"),
    ],
)
def test_leaks_value_fully_replaced_counts_as_found(redacted: str, secret: str) -> None:
    """Other numbers in the sentence do not make a replaced value count as left."""
    assert not leaks(redacted, secret)


def test_positive_cases_each_kind_has_every_layout_in_both_languages() -> None:
    """At least 30 cases per kind, every layout used, English and Portuguese sentences."""
    cases = positive_cases(CASES_PER_KIND, SEED)
    for kind, layouts in KINDS.items():
        texts = [case.text for case in cases if case.kind == kind]
        assert len(texts) >= max(30, len(layouts))
        assert any("customer" in text for text in texts)
        assert any("cliente" in text for text in texts)
    joined = " ".join(case.text for case in cases)
    for layout in ("(at)", "[at]", "CVC: ", "SSN: ", "contribuinte", "+351 9", "+55 "):
        assert layout in joined


def test_near_miss_cases_hold_checksum_look_alikes_and_ordinary_numbers() -> None:
    """The near misses include bad-checksum identifiers and everyday numbers."""
    values = [value for value, _ in near_miss_cases(NEAR_MISSES, SEED)]
    assert sum(bool(re.fullmatch(r"\d{4}\.\d{4}\.\d{4}\.\d{4}", v)) for v in values) >= 5
    assert sum(bool(re.fullmatch(r"\d{3}\.\d{3}\.\d{3}-\d{2}", v)) for v in values) >= 5
    assert sum(bool(re.fullmatch(r"[A-Z]{2}\d{2}(?:-[A-Z0-9]{1,4})+", v)) for v in values) >= 5
    for marker in ("ISBN ", "order #", "R$ ", "rastreio ", "invoice ", "Python 3."):
        assert any(value.startswith(marker) for value in values)


_KINDS = {
    "credit_card": PiiKind.CREDIT_CARD,
    "iban": PiiKind.IBAN,
    "cpf": PiiKind.CPF,
    "cnpj": PiiKind.CNPJ,
    "email": PiiKind.EMAIL,
    "phone_br": PiiKind.PHONE,
    "phone_us": PiiKind.PHONE,
    "ssn": PiiKind.SSN,
    "ip_address": PiiKind.IP_ADDRESS,
    "secret": PiiKind.SECRET,
    "secret_keyed": PiiKind.SECRET,
}


def _recall(sample_kind: str, seed: int) -> float:
    expected = _KINDS[sample_kind]
    samples = positive_samples(sample_kind, SAMPLES_PER_KIND, seed)
    found = sum(
        any(f.kind is expected and f.text == value for f in find_pii(sentence))
        for sentence, value in samples
    )
    return found / len(samples)


@pytest.mark.parametrize("sample_kind", sorted(_KINDS))
def test_find_pii_generated_values_recalls_at_least_95_percent(sample_kind: str) -> None:
    """At least 95 % of generated values are found with their exact kind and span."""
    assert _recall(sample_kind, seed=SEED) >= MIN_RECALL


def test_positive_samples_cpf_set_mixes_languages_and_layouts() -> None:
    """The generated set holds English and Portuguese sentences and both CPF layouts."""
    samples = positive_samples("cpf", SAMPLES_PER_KIND, SEED)
    values = {value for _, value in samples}
    sentences = " ".join(sentence for sentence, _ in samples)
    assert any("-" in value for value in values)
    assert any(value.isdigit() for value in values)
    assert "customer" in sentences
    assert "cliente" in sentences
