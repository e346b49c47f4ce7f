"""find_pii(): the formats each detector accepts and the look-alikes it leaves alone."""

from __future__ import annotations

import itertools

import pytest

from neuralbridge.guardrails import PiiKind, find_pii


def _found(text: str) -> list[tuple[PiiKind, str]]:
    return [(finding.kind, finding.text) for finding in find_pii(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to ana@exemplo.com.br.", "ana@exemplo.com.br"),
        ("(bob+news@mail.example.org)", "bob+news@mail.example.org"),
        ("email: j.smith@corp.co.uk, ok?", "j.smith@corp.co.uk"),
    ],
)
def test_find_pii_email_with_punctuation_gives_address_only(text: str, expected: str) -> None:
    """Surrounding punctuation is never part of an email finding."""
    assert _found(text) == [(PiiKind.EMAIL, expected)]


@pytest.mark.parametrize(
    "phone",
    [
        "+55 (11) 91234-5678",
        "(11) 91234-5678",
        "11 91234 5678",
        "+55 21 3456-7890",
        "+5511912345678",
        "+1 415 555 0100",
        "(415) 555-0100",
        "415-555-0100",
        "1-800-555-0199",
        "+44 20 7946 0958",
        "+351 912 345 678",
    ],
)
def test_find_pii_phone_formats_gives_whole_number(phone: str) -> None:
    """Brazilian, North American and E.164 numbers are found whole."""
    assert _found(f"Ligue {phone} hoje") == [(PiiKind.PHONE, phone)]


@pytest.mark.parametrize(
    "text",
    [
        "Entrega em 2026-11-23 às 14:30",
        "Vence 23/11/2026, pedido 123456",
        "order #98765432 for US$ 1,299.99",
        "Total R$ 1.234,56 (12,5% off)",
        "CEP 01310-100, versão 1.2.3 e v1.2.3.4",
        "Reunião 09:00-18:00, sala 1204, 3 pessoas",
        "ISBN 978-85-359-0277-5",
        "DDD 20 1234 5678 não existe",
        "plain 4155550100 number",
        "abc::def and 12:30:45",
    ],
)
def test_find_pii_numbers_that_are_not_pii_gives_nothing(text: str) -> None:
    """Dates, times, ids, amounts, CEPs, versions and code are not PII."""
    assert _found(text) == []


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("cartão 4111 1111 1111 1111 val 12/28", PiiKind.CREDIT_CARD, "4111 1111 1111 1111"),
        ("amex 3782-822463-10005.", PiiKind.CREDIT_CARD, "3782-822463-10005"),
        ("CPF 529.982.247-25.", PiiKind.CPF, "529.982.247-25"),
        ("cpf 52998224725", PiiKind.CPF, "52998224725"),
        ("CNPJ 11.222.333/0001-81", PiiKind.CNPJ, "11.222.333/0001-81"),
        ("IBAN DE89 3704 0044 0532 0130 00 EUR", PiiKind.IBAN, "DE89 3704 0044 0532 0130 00"),
        ("SSN 123-45-6789.", PiiKind.SSN, "123-45-6789"),
        ("host 10.0.0.254.", PiiKind.IP_ADDRESS, "10.0.0.254"),
        ("v6 [2001:db8::8a2e:370:7334]:443", PiiKind.IP_ADDRESS, "2001:db8::8a2e:370:7334"),
    ],
)
def test_find_pii_valid_identifier_in_context_gives_exact_span(
    text: str, kind: PiiKind, expected: str
) -> None:
    """A valid identifier is found with exactly its own characters."""
    assert _found(text) == [(kind, expected)]


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",
        "card 4111 1111-1111 1111",
        "CPF 529.982.247-26",
        "CPF 111.111.111-11",
        "CNPJ 11.222.333/0001-82",
        "IBAN GB83WEST12345698765432",
        "SSN 666-45-6789",
        "EAN 7891000315507",
        "host 256.1.1.1",
    ],
)
def test_find_pii_invalid_checksum_or_range_gives_nothing(text: str) -> None:
    """Look-alikes with a wrong check digit, mixed separators or bad range are ignored."""
    assert _found(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("OPENAI_API_KEY=sk-proj-abcDEF1234567890ghiJKL", "sk-proj-abcDEF1234567890ghiJKL"),
        ("aws AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
        (
            "token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        ),
        ("slack xoxb-123456789012-abcdefABCDEF", "xoxb-123456789012-abcdefABCDEF"),
        ("Authorization: Bearer abc123def456ghi789jkl0", "abc123def456ghi789jkl0"),
        ("senha: 9f86d081884c7d659a2feaa0c55ad015.", "9f86d081884c7d659a2feaa0c55ad015"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlMTIz",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlMTIz",
        ),
    ],
)
def test_find_pii_secret_shapes_gives_token(text: str, expected: str) -> None:
    """Vendor key shapes, bearer tokens, JWTs and keyed random tokens are secrets."""
    assert _found(text) == [(PiiKind.SECRET, expected)]


@pytest.mark.parametrize(
    "text",
    [
        "The token limit is 4096 per request.",
        "Esqueci minha senha ontem, como recupero?",
        "The secret is authentication_required_for_all.",
        "Use the key word sk-learn in the search",
    ],
)
def test_find_pii_secret_words_without_token_gives_nothing(text: str) -> None:
    """Words like token, senha or key next to ordinary words are not secrets."""
    assert _found(text) == []


def test_find_pii_several_kinds_gives_ordered_non_overlapping_findings() -> None:
    """Findings come in text order and never overlap."""
    text = "ana@x.com.br ligou de (11) 91234-5678 com CPF 52998224725 e IP 10.1.2.3"
    findings = find_pii(text)
    assert [f.kind for f in findings] == [
        PiiKind.EMAIL,
        PiiKind.PHONE,
        PiiKind.CPF,
        PiiKind.IP_ADDRESS,
    ]
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))
    assert all(text[f.start : f.end] == f.text for f in findings)


def test_find_pii_kinds_filter_gives_only_those_kinds() -> None:
    """Restricting the kinds skips the other detectors."""
    text = "ana@x.com.br, CPF 529.982.247-25"
    assert _found_kinds(text, frozenset({PiiKind.CPF})) == [PiiKind.CPF]


def _found_kinds(text: str, kinds: frozenset[PiiKind]) -> list[PiiKind]:
    return [finding.kind for finding in find_pii(text, kinds=kinds)]


def test_pii_finding_repr_omits_sensitive_text() -> None:
    """Logging a finding by mistake does not print the data it found."""
    (finding,) = find_pii("CPF 529.982.247-25")
    assert "529" not in repr(finding)
    assert finding.replacement == "[CPF]"
