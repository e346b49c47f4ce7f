"""What the scheduler needs on the bus: every queue's work stream and its state bucket."""

from __future__ import annotations

from nats.js import JetStreamContext

from neuralbridge.core.subjects import SCHEDULER_KV
from neuralbridge.core.topology import KVSpec, declare_kv, declare_work
from neuralbridge.messages.jobs import QUEUES, queue_work

__all__ = ["declare_all"]


async def declare_all(js: JetStreamContext) -> None:
    """Declare ``JOBS_<QUEUE>`` for every queue, and ``scheduler_state``."""
    for queue in QUEUES:
        await declare_work(js, queue_work(queue))
    await declare_kv(js, KVSpec(bucket=SCHEDULER_KV, history=1))
