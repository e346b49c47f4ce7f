"""What the gateway declares on the bus: the feedback bucket and the FEEDBACK stream.

``FEEDBACK`` is shared with the trainer: both declare the one definition in
:mod:`neuralbridge.core.streams`, so whichever starts first creates it and
neither ever changes what the other declared.
"""

from __future__ import annotations

from nats.js import JetStreamContext

from neuralbridge.core.streams import FEEDBACK
from neuralbridge.core.subjects import FEEDBACK_KV
from neuralbridge.core.topology import KVSpec, declare_kv, declare_stream, use_replicas

__all__ = ["declare_all"]


async def declare_all(js: JetStreamContext, *, replicas: int | None = None) -> None:
    """Declare the FEEDBACK stream and the feedback bucket (history 5).

    Args:
        js: The gateway's JetStream context.
        replicas: ``NATS_STREAM_REPLICAS``; every declaration on ``js`` uses it.
            ``None`` keeps the replicas existing streams have.
    """
    if replicas is not None:
        use_replicas(js, replicas)
    await declare_stream(js, FEEDBACK)
    await declare_kv(js, KVSpec(bucket=FEEDBACK_KV, history=5))
