"""Prometheus metrics of the shared job runner and of the streams it consumes.

Declared once per process (the all-in-one ``nb up`` serves every service's
metrics from one endpoint). Labels never carry secrets or unbounded values:
stream, consumer, outcome and error class only.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "CONSUMER_ACK_PENDING",
    "CONSUMER_PENDING",
    "CONSUMER_REDELIVERED",
    "DLQ_DEPTH",
    "DLQ_MESSAGES",
    "GC_FROZEN_OBJECTS",
    "JOBS",
    "JOBS_IN_FLIGHT",
    "JOB_DURATION",
    "JOB_REDELIVERIES",
    "JOB_REDELIVERIES_ADOPTED",
    "STREAM_MESSAGES",
]

_JOB = ("stream", "consumer")

JOBS = Counter(
    "nb_jobs_total",
    "Jobs handled by the runner, by outcome (success, retry, dlq, released).",
    [*_JOB, "outcome"],
)
JOB_DURATION = Histogram(
    "nb_job_duration_seconds",
    "Handler run time per job.",
    _JOB,
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600),
)
JOB_REDELIVERIES = Counter(
    "nb_job_redeliveries_total", "Deliveries of a job after its first one.", _JOB
)
JOB_REDELIVERIES_ADOPTED = Counter(
    "nb_job_redeliveries_adopted_total",
    "Redeliveries of a job this worker was still running (late heartbeat): not run twice.",
    _JOB,
)
DLQ_MESSAGES = Counter(
    "nb_dlq_messages_total", "Jobs copied to their DLQ, by error class.", [*_JOB, "error_class"]
)
JOBS_IN_FLIGHT = Gauge("nb_jobs_in_flight", "Jobs being handled right now.", _JOB)
STREAM_MESSAGES = Gauge("nb_stream_messages", "Messages stored in a work stream.", ["stream"])
CONSUMER_PENDING = Gauge(
    "nb_consumer_pending", "Messages not yet delivered to the consumer (queue depth).", _JOB
)
CONSUMER_ACK_PENDING = Gauge(
    "nb_consumer_ack_pending", "Messages delivered and awaiting an ack.", _JOB
)
CONSUMER_REDELIVERED = Gauge(
    "nb_consumer_redelivered", "Messages currently redelivered at least once.", _JOB
)
DLQ_DEPTH = Gauge("nb_dlq_depth", "Messages stored in a dead-letter stream.", ["stream"])
GC_FROZEN_OBJECTS = Gauge(
    "nb_gc_frozen_objects",
    "Objects made while the process started, moved out of the garbage collector's sight.",
)
