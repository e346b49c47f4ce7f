"""Seed 000's error recovery, per error class and kind of job, as one pure function.

| failure | what happens |
|---|---|
| :class:`CancelRunError` (insufficient data, no backend, cancel asked) | ``cancelled``, acked |
| any failure of a ``training``-queue job | ``failed``, acked (seed 000 ``max_attempts: 1``) |
| :class:`RateLimitedError` | retried after ``attempt * RATE_LIMIT_RETRY_SECONDS`` |
| any failure of a cleanup job | retried after ``CLEANUP_RETRY_SECONDS`` |
| anything else | retried on the queue's backoff schedule |

A retry on the queue's last allowed delivery goes to the DLQ instead (the
runner does that); the run is then recorded ``failed``. A failed training
run is re-run by hand with ``nb jobs retry <run id>`` (or ``nb jobs run <job>``).
"""

from __future__ import annotations

from dataclasses import dataclass

from neuralbridge.messages.training import RunStatus
from neuralbridge.trainer.errors import CancelRunError, RateLimitedError

__all__ = ["TRAINING_QUEUE", "Decision", "decide"]

TRAINING_QUEUE = "training"


@dataclass(frozen=True, slots=True)
class Decision:
    """The run's fate after a failed attempt.

    ``status`` is the run's status now; ``retry`` says whether the message goes
    back to the queue, after ``delay`` seconds (``None``: the queue's backoff).
    """

    status: RunStatus
    retry: bool
    delay: float | None = None


def decide(
    error: BaseException,
    *,
    queue: str,
    cleanup: bool,
    attempt: int,
    rate_limit_base: float,
    cleanup_delay: float,
) -> Decision:
    """What to do with a run whose attempt ``attempt`` (1-based) raised ``error``."""
    if isinstance(error, CancelRunError):
        return Decision(status="cancelled", retry=False)
    if queue == TRAINING_QUEUE:
        return Decision(status="failed", retry=False)
    if isinstance(error, RateLimitedError):
        return Decision(status="pending", retry=True, delay=attempt * rate_limit_base)
    if cleanup:
        return Decision(status="pending", retry=True, delay=cleanup_delay)
    return Decision(status="pending", retry=True)
