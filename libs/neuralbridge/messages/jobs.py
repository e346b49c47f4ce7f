"""Background jobs: the queues (seeds 000 and 001) and the message that starts a job.

Each queue is its own work stream ``JOBS_<QUEUE>`` on subjects
``jobs.<queue>.<job>`` with its own consumer, DLQ and concurrency, so a slow
training run never holds back a cache cleanup. The scheduler publishes
:class:`JobRequest` on a tick (``Nats-Msg-Id = <schedule>@<tick>``, so any number
of scheduler replicas enqueue a tick once); ``nb jobs run`` publishes one now.
The trainer consumes the queues (its issue).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec

from neuralbridge.core.schemas import Message
from neuralbridge.core.topology import WorkSpec, work_spec

__all__ = [
    "QUEUES",
    "JobRequest",
    "QueueSpec",
    "job_subject",
    "manual_run_id",
    "queue_work",
    "run_id_for",
]


class QueueSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A queue: how many of its jobs run at once (seed 000's Oban limits)."""

    name: str
    concurrency: int


#: Seed 000: default 10, embeddings 5, training 3, api_calls 20; seed 001 adds the
#: ``learning`` and ``optimization`` queues (limits not given: 5 and 2 chosen).
QUEUES: dict[str, QueueSpec] = {
    q.name: q
    for q in (
        QueueSpec(name="default", concurrency=10),
        QueueSpec(name="embeddings", concurrency=5),
        QueueSpec(name="training", concurrency=3),
        QueueSpec(name="api_calls", concurrency=20),
        QueueSpec(name="learning", concurrency=5),
        QueueSpec(name="optimization", concurrency=2),
    )
}


class JobRequest(Message, frozen=True, kw_only=True):
    """Run ``job`` once: from a schedule tick or by hand."""

    job: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    queue: str
    trigger: Literal["schedule", "manual"]
    tick: str | None = None
    requested_at: str
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0)]
    config: dict[str, str | int | float | bool] = msgspec.field(default_factory=dict)


_RUNS_NS = uuid.UUID("6b1d3f0e-9a53-5c2e-8f7d-7472756e7321")


def run_id_for(request: JobRequest, msg_id: str | None, stream_seq: str = "") -> str:
    """A run's stable id: per (job, tick) for scheduled runs, per message otherwise.

    Every delivery of the same message, and every publish of the same tick,
    maps to the same run; whoever published a manual run (``Nats-Msg-Id``) knows
    its id before the trainer picks it up.
    """
    key = f"{request.job}@{request.tick}" if request.tick is not None else msg_id or stream_seq
    return str(uuid.uuid5(_RUNS_NS, key))


def manual_run_id(msg_id: str) -> str:
    """The run id of a manual (tick-less) request published with ``Nats-Msg-Id = msg_id``."""
    return str(uuid.uuid5(_RUNS_NS, msg_id))


def job_subject(queue: str, job: str) -> str:
    """``jobs.<queue>.<job>``."""
    return f"jobs.{queue}.{job}"


def queue_work(queue: str) -> WorkSpec:
    """The work stream of one queue (the scheduler and the trainer both declare it)."""
    spec = QUEUES[queue]
    return work_spec(
        f"JOBS_{queue.upper()}",
        (f"jobs.{queue}.>",),
        f"trainer-{queue}",
        ack_wait=60.0,
        backoff=(60.0, 300.0),
        max_deliver=3,
        max_ack_pending=spec.concurrency,
        duplicate_window=600.0,
    )
