"""find_pii(): spelled-out emails, compact phones, dotted cards, card codes, dashed
IBANs, spaced CPFs and SSNs, and Portuguese NIFs, found with their exact span."""

from __future__ import annotations

import time

import pytest

from neuralbridge.guardrails import PiiKind, find_pii, redact


def _found(text: str, kinds: frozenset[PiiKind] | None = None) -> list[tuple[PiiKind, str]]:
    return [(finding.kind, finding.text) for finding in find_pii(text, kinds=kinds)]


@pytest.mark.parametrize(
    "address",
    [
        "ana.silva (at) exemplo (dot) com",
        "ana [at] exemplo [dot] com [dot] br",
        "ANA(AT)EXEMPLO(DOT)PT",
        "ana {at} mail.exemplo.pt",
        "joao (arroba) uol (ponto) com (ponto) br",
        "joao @ gmail.com",
        "JOAO.SILVA+NEWS@MAIL.EXEMPLO.COM",
    ],
)
def test_find_pii_spelled_out_email_gives_whole_address(address: str) -> None:
    """Emails written to dodge scrapers are found from local part to top-level domain."""
    assert _found(f"Escreva para {address}, obrigado") == [(PiiKind.EMAIL, address)]


@pytest.mark.parametrize(
    "phone",
    ["11912345678", "5511912345678", "912345678", "912 345 678", "+351912345678", "415.555.2671"],
)
def test_find_pii_phone_without_separators_gives_whole_number(phone: str) -> None:
    """Brazilian mobiles and Portuguese mobiles written without separators are phones."""
    assert _found(f"Call {phone} today") == [(PiiKind.PHONE, phone)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111.1111.1111.1111 cvv 123", ["4111.1111.1111.1111", "123"]),
        ("CVC: 4567 for 3782 822463 10005", ["4567", "3782 822463 10005"]),
        ("cartão 4111111111111111 validade 12/2028 123", ["4111111111111111", "123"]),
        ("card 5555-5555-5555-4444, exp 01/29, 987.", ["5555-5555-5555-4444", "987"]),
        ("código de segurança é 321", ["321"]),
    ],
)
def test_find_pii_card_security_code_gives_digits_only(text: str, expected: list[str]) -> None:
    """A labelled code, or three or four digits right after a card, is a card code."""
    assert [finding.text for finding in find_pii(text)] == expected


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("IBAN PT50-0002-0123-1234-5678-9015-4.", PiiKind.IBAN, "PT50-0002-0123-1234-5678-9015-4"),
        ("iban gb29 nwbk 6016 1331 9268 19", PiiKind.IBAN, "gb29 nwbk 6016 1331 9268 19"),
        ("CPF 529 982 247 25", PiiKind.CPF, "529 982 247 25"),
        ("CNPJ 11222333/0001-81", PiiKind.CNPJ, "11222333/0001-81"),
        ("my SSN is 123 45 6789", PiiKind.SSN, "123 45 6789"),
        ("SSN#123456789", PiiKind.SSN, "123456789"),
        ("social security number 123.45.6789", PiiKind.SSN, "123.45.6789"),
        ("NIF 123456789", PiiKind.NIF, "123456789"),
        ("número de contribuinte 123 456 789", PiiKind.NIF, "123 456 789"),
        ("VAT PT501964843", PiiKind.NIF, "PT501964843"),
    ],
)
def test_find_pii_new_layouts_gives_exact_span(text: str, kind: PiiKind, expected: str) -> None:
    """Dashed IBANs, spaced CPFs and SSNs, labelled bare SSNs and NIFs keep their span."""
    assert _found(text) == [(kind, expected)]


@pytest.mark.parametrize(
    "text",
    [
        "NIF 123456780",
        "NF-e nº 913.173.860",
        "see icon@2x.png",
        "IBAN DE16 5635 3948 4944 5324 17",
        "ssn 666 45 6789",
        "cvv policy 2024-01",
        "room 912 3456",
        "call 10912345678",
    ],
)
def test_find_pii_look_alike_of_new_layout_gives_nothing(text: str) -> None:
    """A bad NIF check digit, dotted invoice numbers, image names and bad IBANs are not PII."""
    assert _found(text) == []


def test_redact_card_with_code_leaves_neither() -> None:
    """Both the card number and its security code are replaced."""
    redacted = redact("Visa 4111 1111 1111 1111, CVV 123, obrigado").text
    assert redacted == "Visa [CREDIT_CARD], CVV [CARD_CODE], obrigado"


def test_find_pii_card_code_kind_alone_gives_codes_only() -> None:
    """Asking for card codes alone still finds the code after a card, and not the card."""
    text = "card 4111 1111 1111 1111 123, CVC: 4567"
    assert _found(text, frozenset({PiiKind.CARD_CODE})) == [
        (PiiKind.CARD_CODE, "123"),
        (PiiKind.CARD_CODE, "4567"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "1 " * 16_000,
        "1." * 16_000,
        "1234 " * 6_400,
        "a@" * 16_000,
        "a (at) " * 4_500,
        "+1 " * 10_000,
    ],
)
def test_redact_hostile_32k_input_finishes_quickly(text: str) -> None:
    """Long runs built to make the patterns backtrack take under 2 s (about 50 ms measured)."""
    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < 2.0
