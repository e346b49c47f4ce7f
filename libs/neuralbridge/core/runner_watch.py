"""What a runner watches besides its jobs: stranded jobs and its stream's gauges.

:func:`dead_letter_stranded` is the backstop for a job the server stopped
delivering after ``max_deliver`` attempts without an outcome (it would
otherwise sit in its WorkQueue stream forever): it copies the job to the DLQ
(deduplicated by ``<stream>:<seq>``, so several replicas may race) and deletes
it. :func:`refresh_gauges` keeps queue depth, ack-pending, redeliveries and DLQ
depth current for ``/metrics``.
"""

from __future__ import annotations

import contextlib

import msgspec

from neuralbridge.core import dlq
from neuralbridge.core.bus import Bus
from neuralbridge.core.observability import metrics as m
from neuralbridge.core.topology import WorkSpec

__all__ = ["dead_letter_stranded", "refresh_gauges"]


class _MaxDeliveries(msgspec.Struct):
    """The server's ``io.nats.jetstream.advisory.v1.max_deliver`` event (fields we use)."""

    stream_seq: int
    deliveries: int = 0


async def dead_letter_stranded(
    bus: Bus, spec: WorkSpec, advisory: bytes, *, redact: dlq.Redactor | None = None
) -> None:
    """Move the job a max-deliveries advisory names to the DLQ (secrets masked by ``redact``)."""
    try:
        event = msgspec.json.decode(advisory, type=_MaxDeliveries)
        raw = await bus.js.get_msg(spec.stream, event.stream_seq)
    except Exception:  # noqa: BLE001 - already handled by another replica, or gone
        return
    headers = dlq.dead_letter_headers(
        subject=raw.subject or "",
        stream=spec.stream,
        seq=event.stream_seq,
        deliveries=event.deliveries,
        consumer=spec.consumer,
        error_class="MaxDeliveriesExceeded",
        error="the server stopped redelivering the job after max_deliver attempts",
        original_headers=raw.headers,
    )
    body = dlq.dead_letter_body(raw.data or b"", headers, redact)
    await bus.js.publish(spec.dlq_subject, body, headers=headers)
    with contextlib.suppress(Exception):
        await bus.js.delete_msg(spec.stream, event.stream_seq)
    m.DLQ_MESSAGES.labels(spec.stream, spec.consumer, "MaxDeliveriesExceeded").inc()


async def refresh_gauges(bus: Bus, spec: WorkSpec) -> None:
    """Read stream and consumer state into the per-stream gauges (errors ignored)."""
    stream, consumer = spec.stream, spec.consumer
    with contextlib.suppress(Exception):
        info = await bus.js.consumer_info(stream, consumer)
        m.CONSUMER_PENDING.labels(stream, consumer).set(info.num_pending or 0)
        m.CONSUMER_ACK_PENDING.labels(stream, consumer).set(info.num_ack_pending or 0)
        m.CONSUMER_REDELIVERED.labels(stream, consumer).set(info.num_redelivered or 0)
        m.STREAM_MESSAGES.labels(stream).set((await bus.js.stream_info(stream)).state.messages)
        dlq_info = await bus.js.stream_info(spec.dlq_stream)
        m.DLQ_DEPTH.labels(spec.dlq_stream).set(dlq_info.state.messages)
