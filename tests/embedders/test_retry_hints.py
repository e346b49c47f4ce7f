"""Parsing the servers' wait hints and the backoff policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from tenacity import RetryCallState

from neuralbridge.embedders import EmbedderUnavailable
from neuralbridge.embedders.retry import (
    MAX_WAIT,
    BackoffWait,
    parse_duration,
    parse_retry_after,
    retry_hint,
)


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


def test_parse_retry_after_http_date_returns_seconds_until_it() -> None:
    """Retry-After as an HTTP date is the time until that date."""
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)

    assert parse_retry_after(header, now=now) == pytest.approx(30.0)


def test_parse_retry_after_past_date_returns_zero() -> None:
    """A date in the past means retry now."""
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_retry_hint_exhausted_limit_picks_its_reset() -> None:
    """The reset of the limit whose remaining count is 0 wins over the other reset."""
    headers = {
        "x-ratelimit-remaining-requests": "10",
        "x-ratelimit-reset-requests": "6m0s",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "20ms",
    }

    assert retry_hint(headers) == pytest.approx(0.02)


def test_retry_hint_retry_after_wins_over_resets() -> None:
    """Retry-After, when present, is the hint."""
    assert retry_hint({"retry-after": "2", "x-ratelimit-reset-tokens": "9s"}) == 2.0


def test_retry_hint_no_headers_returns_none() -> None:
    """No hint headers, no hint."""
    assert retry_hint({}) is None


def _state_after(error: Exception, attempt: int) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return state


def test_backoff_wait_hint_is_capped_at_max_wait() -> None:
    """A 6-minute reset waits at most MAX_WAIT in-call."""
    wait = BackoffWait(0.01)(_state_after(EmbedderUnavailable("x", delay=360.0), 1))

    assert wait == MAX_WAIT


def test_backoff_wait_without_hint_grows_exponentially_with_jitter() -> None:
    """Without a hint the n-th wait lies in [base*2^(n-1)/2, base*2^(n-1)]."""
    policy = BackoffWait(1.0)

    third = policy(_state_after(EmbedderUnavailable("x"), 3))

    assert 2.0 <= third <= 4.0
