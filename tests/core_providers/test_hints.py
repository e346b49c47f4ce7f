"""Parsing the servers' wait hints: Retry-After, retry-after-ms, x-ratelimit-reset-*."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from multidict import CIMultiDict

from neuralbridge.core.providers.hints import parse_duration, parse_retry_after, retry_hint


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.5", 0.5)],
)
def test_parse_duration_go_style_returns_seconds(text: str, seconds: float) -> None:
    """OpenAI's reset durations parse to seconds."""
    assert parse_duration(text) == pytest.approx(seconds)


def test_parse_duration_garbage_returns_none() -> None:
    """Text that is no duration gives no hint."""
    assert parse_duration("soon") is None


def test_parse_duration_negative_seconds_returns_zero() -> None:
    """A negative number never becomes a negative wait."""
    assert parse_duration("-3") == 0.0


def test_parse_retry_after_http_date_returns_seconds_until_it() -> None:
    """Retry-After as an HTTP date is the time until that date."""
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)

    assert parse_retry_after(header, now=now) == pytest.approx(30.0)


def test_parse_retry_after_past_date_returns_zero() -> None:
    """A date in the past means retry now."""
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_parse_retry_after_seconds_returns_them() -> None:
    """Retry-After as delay seconds is taken as is."""
    assert parse_retry_after(" 7 ") == 7.0


def test_parse_retry_after_garbage_returns_none() -> None:
    """A value that is neither seconds nor a date gives no hint."""
    assert parse_retry_after("later, please") is None


def test_retry_hint_exhausted_limit_picks_its_reset() -> None:
    """The reset of the limit whose remaining count is 0 wins over the other reset."""
    headers = {
        "x-ratelimit-remaining-requests": "10",
        "x-ratelimit-reset-requests": "6m0s",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "20ms",
    }

    assert retry_hint(headers) == pytest.approx(0.02)


def test_retry_hint_no_exhausted_limit_picks_longest_reset() -> None:
    """When no remaining count says which limit is spent, the longest reset is the hint."""
    headers = {"x-ratelimit-reset-requests": "2s", "x-ratelimit-reset-tokens": "500ms"}

    assert retry_hint(headers) == pytest.approx(2.0)


def test_retry_hint_retry_after_wins_over_resets() -> None:
    """Retry-After, when present, is the hint."""
    assert retry_hint({"retry-after": "2", "x-ratelimit-reset-tokens": "9s"}) == 2.0


def test_retry_hint_retry_after_ms_wins_over_retry_after() -> None:
    """retry-after-ms is the more precise hint and is read in milliseconds."""
    assert retry_hint({"retry-after-ms": "250", "retry-after": "2"}) == pytest.approx(0.25)


def test_retry_hint_response_headers_are_read_case_insensitively() -> None:
    """aiohttp's header mapping matches names whatever their case on the wire."""
    assert retry_hint(CIMultiDict({"Retry-After": "3"})) == 3.0


def test_retry_hint_no_headers_returns_none() -> None:
    """No hint headers, no hint."""
    assert retry_hint({}) is None
