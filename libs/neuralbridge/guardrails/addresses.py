"""Email addresses and IP addresses.

An email is a local part of letters, digits and ``._%+-`` (not starting or
ending with a dot), ``@``, and a domain of dot-separated labels ending in an
alphabetic top-level domain; punctuation after it is not part of it. Addresses
spelled out to dodge scrapers count too: ``@`` written ``(at)``, ``[at]``,
``{at}``, ``<at>`` or the Portuguese ``(arroba)``, and dots written ``(dot)``,
``[dot]`` or ``(ponto)`` (any case, up to three spaces around them), or ``@``
with a space either side: ``ana (at) exemplo (dot) com``, ``ana [at] x [dot] pt``.
Image file names such as ``icon@2x.png`` are not addresses: a "top-level
domain" that is an image extension rules a match out. An IPv4
address is four decimal octets 0-255 not glued to other digits or dots (so
``v1.2.3.4`` and ``1.2.3.4.5`` are not flagged). An IPv6 address is whatever
:class:`ipaddress.IPv6Address` accepts, holding at least one decimal digit
(``abc::def`` in code is not an address).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Final

from neuralbridge.guardrails.findings import PiiFinding, PiiKind, build_finding

__all__ = ["find_emails", "find_ip_addresses"]

# An address is found from its "@" (or spelled-out "at") outwards: the local
# part is matched backwards from it and the domain forwards, so text without
# "@" or brackets costs one quick scan.
_AT: Final = re.compile(r"@|[(\[{<][ \t]*(?i:at|arroba)[ \t]*[)\]}>]")
# Matched on the reversed text before the "@" (the pattern reads the same both ways).
_LOCAL_REVERSED: Final = re.compile(r"[\w%+-](?:[\w.%+-]{0,62}[\w%+-])?(?![\w.%+-])")
_LOCAL_MAX: Final = 64
_SPELLED_DOT: Final = r"[ \t]*[(\[{<][ \t]*(?i:dot|ponto)[ \t]*[)\]}>][ \t]*"
_DOMAIN: Final = re.compile(
    rf"(?:[^\W_](?:[\w-]{{0,61}}[^\W_])?(?:\.|{_SPELLED_DOT}))+"
    r"(?P<tld>[^\W\d_]{2,24})(?![\w-]|\.[^\W_])"
)
#: Spaces or tabs allowed between "@" (or "(at)") and the parts around it.
_GAP: Final = {True: 3, False: 1}
_IMAGE_EXTENSIONS: Final = frozenset(
    {"bmp", "gif", "ico", "jpeg", "jpg", "png", "svg", "tiff", "webp"}
)
_OCTET: Final = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4: Final = re.compile(rf"(?=\d)(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d)")
_IPV6: Final = re.compile(
    r"(?=[0-9A-Fa-f:])(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?![\w:])"
)


def _skip_blanks(text: str, position: int, step: int, most: int) -> int:
    """``position`` moved over up to ``most`` spaces or tabs in direction ``step``."""
    for _ in range(most):
        neighbour = position if step > 0 else position - 1
        if not 0 <= neighbour < len(text) or text[neighbour] not in " \t":
            break
        position += step
    return position


def _email_around(text: str, at: re.Match[str]) -> tuple[int, int] | None:
    """The span of the address whose "@" is ``at``, or ``None`` if it is not one."""
    gap = _GAP[at.group() != "@"]
    local_end = _skip_blanks(text, at.start(), -1, gap)
    before = text[max(0, local_end - _LOCAL_MAX - 1) : local_end][::-1]
    local = _LOCAL_REVERSED.match(before)
    domain = _DOMAIN.match(text, _skip_blanks(text, at.end(), 1, gap))
    if local is None or domain is None or domain.group("tld").lower() in _IMAGE_EXTENSIONS:
        return None
    return local_end - local.end(), domain.end()


def find_emails(text: str) -> Iterator[PiiFinding]:
    """Email addresses in ``text``, without trailing punctuation.

    Args:
        text: The text to scan.

    Yields:
        One ``email`` finding per address, in order.
    """
    covered = 0
    for at in _AT.finditer(text):
        span = _email_around(text, at)
        if span is not None and span[0] >= covered:
            covered = span[1]
            yield build_finding(PiiKind.EMAIL, text, *span)


def _ipv6_valid(candidate: str) -> bool:
    if not any(char.isdigit() for char in candidate):
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _ip_spans(text: str) -> Iterator[tuple[int, int]]:
    for match in _IPV4.finditer(text):
        yield match.span()
    for match in _IPV6.finditer(text):
        if _ipv6_valid(match.group()):
            yield match.span()


def find_ip_addresses(text: str) -> Iterator[PiiFinding]:
    """IPv4 and IPv6 addresses in ``text``.

    Args:
        text: The text to scan.

    Yields:
        One ``ip_address`` finding per address, in order.
    """
    covered = 0
    for start, end in sorted(_ip_spans(text), key=lambda span: (span[0], -span[1])):
        if start >= covered:
            covered = end
            yield build_finding(PiiKind.IP_ADDRESS, text, start, end)
