"""Check-digit and number-plan validators against published reference values."""

from __future__ import annotations

import pytest

from neuralbridge.guardrails.checksums import (
    card_issuer,
    cnpj_valid,
    cpf_valid,
    ean13_valid,
    iban_valid,
    luhn_valid,
    ssn_valid,
)


@pytest.mark.parametrize(
    ("number", "expected"),
    [("4111111111111111", True), ("378282246310005", True), ("4111111111111112", False)],
)
def test_luhn_valid_reference_numbers_gives_expected(number: str, expected: bool) -> None:
    """Luhn accepts the processors' test numbers and rejects a changed digit."""
    assert luhn_valid(number) is expected


@pytest.mark.parametrize(
    ("number", "issuer"),
    [
        ("4111111111111111", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("1234567812345670", None),
        ("41111111111111", None),
    ],
)
def test_card_issuer_prefix_and_length_gives_network(number: str, issuer: str | None) -> None:
    """The IIN range and the length together pick the network, or none."""
    assert card_issuer(number) == issuer


@pytest.mark.parametrize(
    ("iban", "expected"),
    [
        ("GB82WEST12345698765432", True),
        ("DE89370400440532013000", True),
        ("NO9386011117947", True),
        ("BR1800360305000010009795493C1", True),
        ("CH9300762011623852957", True),
        ("GB83WEST12345698765432", False),
        ("DE8937040044053201300", False),
        ("XX89370400440532013000", False),
    ],
)
def test_iban_valid_registry_examples_gives_expected(iban: str, expected: bool) -> None:
    """Registry examples pass; a wrong check digit, length or country fails."""
    assert iban_valid(iban) is expected


@pytest.mark.parametrize(
    ("digits", "expected"),
    [("52998224725", True), ("52998224726", False), ("11111111111", False), ("5299822472", False)],
)
def test_cpf_valid_check_digits_gives_expected(digits: str, expected: bool) -> None:
    """A CPF needs both check digits right and not all digits equal."""
    assert cpf_valid(digits) is expected


@pytest.mark.parametrize(
    ("digits", "expected"),
    [("11222333000181", True), ("11222333000182", False), ("00000000000000", False)],
)
def test_cnpj_valid_check_digits_gives_expected(digits: str, expected: bool) -> None:
    """A CNPJ needs both check digits right and not all digits equal."""
    assert cnpj_valid(digits) is expected


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("123", "45", "6789"), True),
        (("000", "45", "6789"), False),
        (("666", "45", "6789"), False),
        (("912", "45", "6789"), False),
        (("123", "00", "6789"), False),
        (("123", "45", "0000"), False),
    ],
)
def test_ssn_valid_reserved_parts_gives_expected(
    parts: tuple[str, str, str], expected: bool
) -> None:
    """SSNs with a never-issued area, group or serial are rejected."""
    assert ssn_valid(*parts) is expected


def test_ean13_valid_barcode_gives_true() -> None:
    """A real EAN-13 barcode passes its check digit."""
    assert ean13_valid("7891000315507")
    assert not ean13_valid("7891000315508")
