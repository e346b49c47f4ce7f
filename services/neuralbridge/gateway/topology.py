"""What the gateway declares on the bus: the feedback bucket, and FEEDBACK if missing.

``FEEDBACK`` belongs to the trainer (``trainer/topology.py``, 365 days): the
gateway creates it with the same settings only when it does not exist yet, and
never updates it, so the two never fight over its configuration.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from neuralbridge.core.subjects import FEEDBACK_KV, FEEDBACK_STREAM, FEEDBACK_SUBJECTS
from neuralbridge.core.topology import DAY, KVSpec, StreamSpec, declare_kv, declare_stream

__all__ = ["declare_all"]

#: The trainer's retention of FEEDBACK.
FEEDBACK_MAX_AGE = 365 * DAY


async def declare_all(js: JetStreamContext) -> None:
    """Declare the feedback bucket (history 5) and, if missing, the FEEDBACK stream."""
    try:
        await js.stream_info(FEEDBACK_STREAM)
    except NotFoundError:
        await declare_stream(
            js,
            StreamSpec(name=FEEDBACK_STREAM, subjects=FEEDBACK_SUBJECTS, max_age=FEEDBACK_MAX_AGE),
        )
    await declare_kv(js, KVSpec(bucket=FEEDBACK_KV, history=5))
