"""The scheduler: seeds 000/001's schedules, each tick enqueued exactly once.

Schedules are data (:mod:`neuralbridge.scheduler.schedules`); the loop
(:mod:`neuralbridge.scheduler.ticker`) publishes a :class:`JobRequest` per due
tick to the job's queue stream ``JOBS_<QUEUE>`` with a message id derived from
schedule and tick, so any number of replicas enqueue a tick once. The trainer
consumes the queues (its own issue).
"""

from neuralbridge.scheduler.main import SERVICE, SchedulerSettings
from neuralbridge.scheduler.schedules import MANUAL_ALIASES, SEED_SCHEDULES, Schedule, resolve_job
from neuralbridge.scheduler.ticker import Scheduler, enqueue_now

__all__ = [
    "MANUAL_ALIASES",
    "SEED_SCHEDULES",
    "SERVICE",
    "Schedule",
    "Scheduler",
    "SchedulerSettings",
    "enqueue_now",
    "resolve_job",
]
