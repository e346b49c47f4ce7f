"""How long a server asked us to wait: ``Retry-After`` and rate-limit reset headers.

A 429 or 503 usually says how long to wait: ``Retry-After`` (seconds or an HTTP
date), ``retry-after-ms``, or OpenAI's ``x-ratelimit-reset-requests`` /
``x-ratelimit-reset-tokens`` (Go-style durations such as ``1s``, ``6m0s``,
``20ms``). :func:`retry_hint` reads them all into seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["parse_duration", "parse_retry_after", "retry_hint"]

_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|us|µs|ns|h|m|s))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_RESETS = (
    ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
)


def parse_duration(text: str) -> float | None:
    """Parse a Go-style duration (``6m0s``, ``1.5s``, ``20ms``) or bare seconds.

    Args:
        text: The header value.

    Returns:
        Seconds (never negative), or ``None`` when the text is not a duration.
    """
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    if not _DURATION.fullmatch(text):
        return None
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))


def parse_retry_after(value: str, *, now: datetime | None = None) -> float | None:
    """Parse ``Retry-After``: delay seconds or an HTTP date.

    Args:
        value: The header value.
        now: The current time (for tests); the system clock by default.

    Returns:
        Seconds from ``now`` (never negative), or ``None`` when unparseable.
    """
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_hint(headers: Mapping[str, str]) -> float | None:
    """Return the wait the server asked for, in seconds, or ``None``.

    ``retry-after-ms`` and ``Retry-After`` win; otherwise the reset of whichever
    OpenAI-style limit is exhausted (``x-ratelimit-remaining-*: 0``), or the
    longest reset when none says which.

    Args:
        headers: The answer's headers (a case-insensitive mapping such as
            aiohttp's, or lower-case keys).
    """
    if (millis := headers.get("retry-after-ms")) is not None:
        hint = parse_duration(millis)
        if hint is not None:
            return hint / 1000.0
    if (after := headers.get("retry-after")) is not None:
        hint = parse_retry_after(after)
        if hint is not None:
            return hint
    exhausted: list[float] = []
    every: list[float] = []
    for remaining, reset in _RESETS:
        seconds = parse_duration(headers.get(reset, ""))
        if seconds is None:
            continue
        every.append(seconds)
        if headers.get(remaining, "").strip() == "0":
            exhausted.append(seconds)
    return max(exhausted or every, default=None)
