"""Card security codes (CVV, CVC, CID): the three or four digits on a card.

Alone, three digits mean nothing; two kinds of evidence make them a card code:

* **A label.** ``CVV``, ``CVV2``, ``CVC``, ``CVC2``, ``CID``, ``CSC``,
  ``security code``, ``card verification code/value`` or the Portuguese
  ``código de segurança`` / ``cód. seg.``, optionally followed by ``:``, ``=``,
  ``#``, ``is`` or ``é``, then the digits: ``cvv 123``, ``CVC: 4567``,
  ``código de segurança é 321``.
* **A card right before it.** Three or four digits after a payment card number
  (see :mod:`~neuralbridge.guardrails.financial`), separated from it by a
  space, comma, semicolon, slash or dash, optionally with an expiry date
  (``MM/YY`` or ``MM/YYYY``, perhaps labelled ``exp``, ``validade``, ``venc.``)
  in between: ``4111 1111 1111 1111 123``, ``4111111111111111, exp 12/28, 123``.

Only the digits are flagged, never the label.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from neuralbridge.guardrails.financial import find_cards
from neuralbridge.guardrails.findings import PiiFinding, PiiKind, build_finding

__all__ = ["find_card_codes", "find_cards_and_codes"]

_AFTER: Final = r"(?!\w|[.,/\-]\d)"
_LABELLED: Final = re.compile(
    r"(?=[cCsS])(?i:(?<!\w)(?:cvv2?|cvc2?|cid|csc|cav2"
    r"|security[ -]code|card[ -]verification(?:[ -](?:code|value|number))?"
    r"|c[oó]d(?:igo|\.)?[ \t]*(?:de[ \t]+)?(?:seguran[cç]a|seg\.?)))"
    r"[ \t]*(?:[:=#]|(?i:is|é))?[ \t]*(?:[\"'(][ \t]*)?(?P<code>\d{3,4})" + _AFTER
)
_EXPIRY_LABEL: Final = r"(?i:exp(?:iry|ires|iration)?|valid(?:ade| thru)?|val|venc(?:imento)?)"
_AFTER_CARD: Final = re.compile(
    rf"(?:[ \t]*[,;]?[ \t]*(?:{_EXPIRY_LABEL}\.?:?[ \t]*)?(?:0[1-9]|1[0-2])/(?:\d{{4}}|\d{{2}}))?"
    r"(?:[ \t]*[,;/-][ \t]*|[ \t]+)(?P<code>\d{3,4})" + _AFTER
)


def _code_spans(text: str, cards: list[PiiFinding]) -> Iterator[tuple[int, int]]:
    for match in _LABELLED.finditer(text):
        yield match.span("code")
    for card in cards:
        trailing = _AFTER_CARD.match(text, card.end)
        if trailing is not None:
            yield trailing.span("code")


def _codes(text: str, cards: list[PiiFinding]) -> Iterator[PiiFinding]:
    covered = 0
    for start, end in sorted(set(_code_spans(text, cards))):
        if start >= covered:
            covered = end
            yield build_finding(PiiKind.CARD_CODE, text, start, end)


def find_card_codes(text: str) -> Iterator[PiiFinding]:
    """Card security codes in ``text``: labelled ones and those right after a card.

    Args:
        text: The text to scan.

    Yields:
        One ``card_code`` finding per code (the digits only), in order.
    """
    yield from _codes(text, list(find_cards(text)))


def find_cards_and_codes(text: str) -> Iterator[PiiFinding]:
    """Payment card numbers, then card security codes, scanning for cards once.

    Args:
        text: The text to scan.

    Yields:
        The ``credit_card`` findings in order, then the ``card_code`` ones in order.
    """
    cards = list(find_cards(text))
    yield from cards
    yield from _codes(text, cards)
