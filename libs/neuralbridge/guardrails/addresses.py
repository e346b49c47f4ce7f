"""Email addresses and IP addresses.

An email is a local part of letters, digits and ``._%+-`` (not starting or
ending with a dot), ``@``, and a domain of dot-separated labels ending in an
alphabetic top-level domain; punctuation after it is not part of it. An IPv4
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

_EMAIL: Final = re.compile(
    r"(?<![\w.%+-])[\w%+-](?:[\w.%+-]{0,62}[\w%+-])?"
    r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,24}"
    r"(?![\w-]|\.[^\W_])"
)
_OCTET: Final = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4: Final = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d)")
_IPV6: Final = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?![\w:])"
)


def find_emails(text: str) -> Iterator[PiiFinding]:
    """Email addresses in ``text``, without trailing punctuation.

    Args:
        text: The text to scan.

    Yields:
        One ``email`` finding per address, in order.
    """
    for match in _EMAIL.finditer(text):
        yield build_finding(PiiKind.EMAIL, text, match.start(), match.end())


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
