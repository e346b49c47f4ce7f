"""The in-call backoff policy: server hints on any RetryableError, else capped jitter."""

from __future__ import annotations

import pytest
from tenacity import RetryCallState

from neuralbridge.core.errors import PermanentError, RetryableError
from neuralbridge.core.providers.backoff import MAX_WAIT, BackoffWait, retrying
from neuralbridge.embedders import EmbedderUnavailable
from neuralbridge.llm import LLMStreamBroken, LLMUnavailable


def _state_after(error: Exception, attempt: int) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return state


def test_backoff_wait_hint_is_capped_at_max_wait() -> None:
    """A 6-minute reset waits at most MAX_WAIT in-call."""
    wait = BackoffWait(0.01)(_state_after(EmbedderUnavailable("x", delay=360.0), 1))

    assert wait == MAX_WAIT


@pytest.mark.parametrize(
    "error",
    [
        EmbedderUnavailable("x", delay=1.5),
        LLMUnavailable("x", delay=1.5),
        RetryableError("x", delay=1.5),
    ],
    ids=["embedder", "llm", "plain"],
)
def test_backoff_wait_any_retryable_error_delay_is_honoured(error: RetryableError) -> None:
    """Every RetryableError subclass's delay is the wait, not only one package's."""
    assert BackoffWait(100.0)(_state_after(error, 4)) == 1.5


def test_backoff_wait_without_hint_grows_exponentially_with_jitter() -> None:
    """Without a hint the n-th wait lies in [base*2^(n-1)/2, base*2^(n-1)]."""
    policy = BackoffWait(1.0)

    third = policy(_state_after(EmbedderUnavailable("x"), 3))

    assert 2.0 <= third <= 4.0


def test_backoff_wait_without_hint_is_capped() -> None:
    """Exponential growth stops at the cap."""
    wait = BackoffWait(1.0, cap=5.0)(_state_after(LLMUnavailable("x"), 30))

    assert 2.5 <= wait <= 5.0


async def test_retrying_retries_only_the_named_type() -> None:
    """The controller retries its error type and lets every other error through at once."""
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise LLMUnavailable("busy", delay=0.0)
        return "ok"

    assert await retrying(LLMUnavailable, max_retries=3, retry_delay_ms=1)(flaky) == "ok"
    assert len(calls) == 3


async def test_retrying_other_retryable_type_is_not_retried() -> None:
    """A RetryableError of another type (a broken stream) is the caller's to handle."""
    calls: list[int] = []

    async def broken() -> None:
        calls.append(1)
        raise LLMStreamBroken("cut")

    with pytest.raises(LLMStreamBroken):
        await retrying(LLMUnavailable, max_retries=3, retry_delay_ms=1)(broken)
    assert len(calls) == 1


async def test_retrying_gives_up_after_max_retries_with_last_error() -> None:
    """After max_retries + 1 attempts the last error is raised as is."""
    calls: list[int] = []

    async def down() -> None:
        calls.append(1)
        raise EmbedderUnavailable(f"attempt {len(calls)}", delay=0.0)

    with pytest.raises(EmbedderUnavailable, match="attempt 3"):
        await retrying(EmbedderUnavailable, max_retries=2, retry_delay_ms=1)(down)


async def test_retrying_permanent_error_is_raised_at_once() -> None:
    """A permanent error is never retried."""
    calls: list[int] = []

    async def refused() -> None:
        calls.append(1)
        raise PermanentError("no")

    with pytest.raises(PermanentError):
        await retrying(RetryableError, max_retries=5, retry_delay_ms=1)(refused)
    assert len(calls) == 1
