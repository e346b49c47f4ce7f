"""Finding PII in a text: every detector, then one answer per character.

Detectors run in priority order; a finding is kept only if it overlaps none
kept before it. The order puts the most specific evidence first: a secret's
shape, then emails (whose local part may hold digits), IBANs, CNPJs, CPFs,
card numbers and their security codes, SSNs, phone numbers, Portuguese tax
numbers (NIF) and IP addresses. Two check digits are stronger evidence than
one, so a bare 14-digit number that is both a valid CNPJ and a Luhn-valid
Diners card is reported as a CNPJ; a Portuguese mobile number (``91``...)
that happens to pass the NIF check digit is reported as a phone.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import Final

from neuralbridge.guardrails.addresses import find_emails, find_ip_addresses
from neuralbridge.guardrails.card_codes import find_cards_and_codes
from neuralbridge.guardrails.credentials import find_secrets
from neuralbridge.guardrails.financial import find_ibans
from neuralbridge.guardrails.findings import PiiFinding, PiiKind
from neuralbridge.guardrails.national_ids import find_cnpjs, find_cpfs, find_nifs, find_ssns
from neuralbridge.guardrails.phones import find_phones

__all__ = ["find_pii"]

Detector = Callable[[str], Iterator[PiiFinding]]

#: Detectors from the most to the least specific evidence, with the kinds each
#: reports (cards and their security codes come from one pass over the digits).
_DETECTORS: Final[tuple[tuple[frozenset[PiiKind], Detector], ...]] = (
    (frozenset({PiiKind.SECRET}), find_secrets),
    (frozenset({PiiKind.EMAIL}), find_emails),
    (frozenset({PiiKind.IBAN}), find_ibans),
    (frozenset({PiiKind.CNPJ}), find_cnpjs),
    (frozenset({PiiKind.CPF}), find_cpfs),
    (frozenset({PiiKind.CREDIT_CARD, PiiKind.CARD_CODE}), find_cards_and_codes),
    (frozenset({PiiKind.SSN}), find_ssns),
    (frozenset({PiiKind.PHONE}), find_phones),
    (frozenset({PiiKind.NIF}), find_nifs),
    (frozenset({PiiKind.IP_ADDRESS}), find_ip_addresses),
)


class _Coverage:
    """Non-overlapping spans kept so far, sorted, with O(log n) overlap tests."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.findings: list[PiiFinding] = []

    def add_if_free(self, finding: PiiFinding) -> None:
        index = bisect.bisect_right(self.starts, finding.start)
        if index and self.findings[index - 1].end > finding.start:
            return
        if index < len(self.starts) and self.starts[index] < finding.end:
            return
        self.starts.insert(index, finding.start)
        self.findings.insert(index, finding)


def find_pii(text: str, *, kinds: frozenset[PiiKind] | None = None) -> list[PiiFinding]:
    """Personal data and secrets in ``text``.

    Args:
        text: The text to scan.
        kinds: Only look for these kinds; ``None`` looks for all of them.

    Returns:
        Non-overlapping findings ordered by ``start``. Each holds the matched
        text, which is sensitive: log the kind and offsets, never the text.
    """
    coverage = _Coverage()
    for reported, detector in _DETECTORS:
        if kinds is None or not reported.isdisjoint(kinds):
            for finding in detector(text):
                if kinds is None or finding.kind in kinds:
                    coverage.add_if_free(finding)
    return coverage.findings
