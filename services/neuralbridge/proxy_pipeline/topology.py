"""The pipeline's bus contract: PROXY_REQUESTS, QUERY_LOGS and the sessions bucket.

Requests are interactive: a short ``ack_wait`` (``PROXY_ACK_WAIT``, 15 s) on
every delivery, so a request held by a dead replica comes back within it, and a
small retry schedule (``PROXY_RETRY_SCHEDULE``, 1 s then 2 s) that the handler
applies to failed attempts by raising ``RetryableError(delay=...)`` (the
consumer's ``backoff`` only governs ack timeouts). The runner heartbeats live
requests, so only a dead replica's request is redelivered; whichever replica
gets it answers the same ``reply_to``. Its DLQ follows the house convention
(``DLQ_PROXY_REQUESTS``).
"""

from __future__ import annotations

from nats.js import JetStreamContext

from neuralbridge.core.streams import QUERY_LOGS
from neuralbridge.core.subjects import (
    PROXY_REQUESTS_CONSUMER,
    PROXY_REQUESTS_STREAM,
    PROXY_REQUESTS_SUBJECTS,
    PROXY_SESSIONS_KV,
)
from neuralbridge.core.topology import (
    KVSpec,
    WorkSpec,
    declare_kv,
    declare_stream,
    declare_work,
    use_replicas,
    work_spec,
)

__all__ = ["declare_all", "requests_work"]


def requests_work(
    *, ack_wait: float = 15.0, schedule: tuple[float, ...] = (1.0, 2.0), max_ack_pending: int = 256
) -> WorkSpec:
    """Stream, consumer and DLQ of proxy requests; ``len(schedule) + 1`` deliveries.

    Requests older than an hour are dropped by the stream itself (``max_age``):
    every deadline has passed by then.
    """
    return work_spec(
        PROXY_REQUESTS_STREAM,
        PROXY_REQUESTS_SUBJECTS,
        PROXY_REQUESTS_CONSUMER,
        ack_wait=ack_wait,
        backoff=(ack_wait,) * len(schedule),
        max_deliver=len(schedule) + 1,
        max_ack_pending=max_ack_pending,
        max_age=3600.0,
    )


async def declare_all(
    js: JetStreamContext, work: WorkSpec, *, session_ttl: float, replicas: int | None = None
) -> None:
    """Declare the requests stream (and DLQ), the query-log stream and the sessions bucket.

    ``replicas`` (``NATS_STREAM_REPLICAS``) applies to every declaration on ``js``;
    ``None`` keeps the replicas existing streams have. QUERY_LOGS is the shared
    definition (:mod:`neuralbridge.core.streams`) the trainer declares too.
    """
    if replicas is not None:
        use_replicas(js, replicas)
    await declare_work(js, work)
    await declare_stream(js, QUERY_LOGS)
    await declare_kv(js, KVSpec(bucket=PROXY_SESSIONS_KV, history=1, ttl=session_ttl))
