"""redact(): placeholders replace exactly the findings, every other byte stays."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuralbridge.guardrails import PiiKind, find_pii, redact
from tests.guardrails.generators import GENERATORS

_PLACEHOLDERS = {
    "email": "[EMAIL]",
    "cpf": "[CPF]",
    "cnpj": "[CNPJ]",
    "credit_card": "[CREDIT_CARD]",
    "iban": "[IBAN]",
    "ssn": "[SSN]",
    "ip_address": "[IP_ADDRESS]",
    "phone_br": "[PHONE]",
}
# Filler that can never form PII: letters, accents, spaces and light punctuation.
_FILLER = st.text(alphabet="abcdefghijklmnopqrstuvwxyzçãéô ,;!?\n", max_size=30)


@settings(max_examples=150, deadline=None)
@given(
    fillers=st.lists(_FILLER, min_size=1, max_size=5),
    kinds=st.lists(st.sampled_from(sorted(_PLACEHOLDERS)), min_size=0, max_size=4),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_redact_mixed_text_replaces_only_findings(
    fillers: list[str], kinds: list[str], seed: int
) -> None:
    """The redacted text is the filler with each value swapped for its placeholder."""
    rng = random.Random(seed)
    values = [GENERATORS[kind](rng) for kind in kinds]
    pieces, expected = [fillers[0]], [fillers[0]]
    for index, (kind, value) in enumerate(zip(kinds, values, strict=True)):
        filler = fillers[(index + 1) % len(fillers)]
        pieces += [" ", value, " ", filler]
        expected += [" ", _PLACEHOLDERS[kind], " ", filler]
    result = redact("".join(pieces))
    assert result.text == "".join(expected)
    assert [f.text for f in result.findings] == values


def test_redact_same_kind_different_values_gives_same_text() -> None:
    """Prompts differing only in PII of the same kind redact identically (cache hits)."""
    first = redact("Meu CPF é 529.982.247-25 e meu e-mail ana@x.com")
    second = redact("Meu CPF é 111.444.777-35 e meu e-mail bruno@y.org")
    assert first.text == second.text == "Meu CPF é [CPF] e meu e-mail [EMAIL]"


def test_redact_given_findings_replaces_only_those() -> None:
    """Passing findings redacts exactly them, not what a fresh scan would find."""
    text = "ana@x.com and 10.0.0.1"
    emails = [f for f in find_pii(text) if f.kind is PiiKind.EMAIL]
    assert redact(text, emails).text == "[EMAIL] and 10.0.0.1"


def test_redact_no_pii_gives_identical_text() -> None:
    """Text without PII comes back unchanged, with no findings."""
    text = "Olá! Pedido 123456 chega em 23/11/2026 às 14:30 — R$ 1.234,56.\n\tObrigado."
    result = redact(text)
    assert result.text == text
    assert result.findings == ()


def test_redact_overlapping_findings_raises_value_error() -> None:
    """Overlapping findings cannot be applied and are refused."""
    (finding,) = find_pii("CPF 529.982.247-25")
    with pytest.raises(ValueError, match="overlap"):
        redact("CPF 529.982.247-25", [finding, finding])
