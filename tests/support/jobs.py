"""Job messages and handlers the tests (and their worker processes) run."""

from __future__ import annotations

from neuralbridge.core.schemas import Message


class Work(Message, frozen=True, kw_only=True):
    """A test job: sleep, optionally fail the first ``fail_times`` deliveries."""

    key: str
    seconds: float = 0.0
    fail_times: int = 0
