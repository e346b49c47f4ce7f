"""What trainer jobs raise to choose their run's fate (the dispatcher maps them).

::

    NeuralBridgeError
    └── TrainerError
        ├── CancelRunError           the run ends ``cancelled`` with the reason; never retried
        │   ├── InsufficientDataError    too little data to act on (seed 000)
        │   └── CancelRequestedError     someone ran ``nb jobs cancel <run id>``
        └── RateLimitedError         an upstream said "slow down": retried after attempt * base

Any other exception is a failure: cleanup jobs are retried after
``CLEANUP_RETRY_SECONDS``, training-queue jobs are recorded failed and not
retried, the rest follow their queue's backoff. The job runner never sees
these classes; the dispatcher turns them into a return (ack) or a
:class:`~neuralbridge.core.errors.RetryableError`.
"""

from __future__ import annotations

from neuralbridge.core.errors import NeuralBridgeError

__all__ = [
    "CancelRequestedError",
    "CancelRunError",
    "InsufficientDataError",
    "RateLimitedError",
    "TrainerError",
]


class TrainerError(NeuralBridgeError):
    """Base of the errors trainer jobs raise."""


class CancelRunError(TrainerError):
    """End the run as ``cancelled`` with this reason (acked, not retried)."""


class InsufficientDataError(CancelRunError):
    """Not enough data to run the job (seed 000: cancel, do not retry)."""


class CancelRequestedError(CancelRunError):
    """A person asked for the run to stop."""


class RateLimitedError(TrainerError):
    """An upstream API rate-limited the job; retry later."""
