"""What the scheduler needs on the bus: every queue's work stream and its state bucket."""

from __future__ import annotations

from nats.js import JetStreamContext

from neuralbridge.core.subjects import SCHEDULER_KV
from neuralbridge.core.topology import KVSpec, declare_kv, declare_work, use_replicas
from neuralbridge.messages.jobs import QUEUES, queue_work

__all__ = ["declare_all"]


async def declare_all(js: JetStreamContext, *, replicas: int | None = None) -> None:
    """Declare ``JOBS_<QUEUE>`` for every queue, and ``scheduler_state``.

    ``replicas`` (``NATS_STREAM_REPLICAS``) applies to every declaration on ``js``;
    ``None`` keeps the replicas existing streams have.
    """
    if replicas is not None:
        use_replicas(js, replicas)
    for queue in QUEUES:
        await declare_work(js, queue_work(queue))
    await declare_kv(js, KVSpec(bucket=SCHEDULER_KV, history=1))
