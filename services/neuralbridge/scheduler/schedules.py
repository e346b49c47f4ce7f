"""The schedules, as data: seeds 000 and 001, with seed 001's timeouts.

| schedule | when | queue | timeout |
|---|---|---|---|
| cache_cleanup | hourly (seed 000) | default | 10 min |
| training_dataset_analysis | daily 02:00 (seed 000) | default | 30 min |
| ab_test_analysis | hourly | learning | 30 min |
| rag_training | daily 03:00 | learning | 2 h |
| prompt_optimization | Monday 02:00 | optimization | 1 h |
| feedback_cleanup | Sunday 01:00 | learning | 30 min |
| learning_report | Monday 09:00 | learning | 10 min |

Seed 001 gives the last five timeouts; the seed-000 jobs have none, so 10 and
30 minutes were chosen. Times are in ``SCHEDULER_TIMEZONE`` (UTC by default).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
from croniter import croniter

__all__ = ["MANUAL_ALIASES", "ON_DEMAND_JOBS", "SEED_SCHEDULES", "Schedule", "resolve_job"]

HOUR = 3600.0


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """When a job is enqueued, on which queue, and how long it may run."""

    name: str
    cron: str
    queue: str
    timeout_seconds: float
    job: str = ""

    @property
    def job_name(self) -> str:
        """The job this schedule starts (the schedule's own name unless set)."""
        return self.job or self.name

    def latest_due(self, now: datetime, tz: ZoneInfo) -> datetime:
        """The most recent fire time at or before ``now``."""
        local = now.astimezone(tz)
        it = croniter(self.cron, local + timedelta(microseconds=1))
        previous: datetime = it.get_prev(datetime)
        return previous

    def next_due(self, now: datetime, tz: ZoneInfo) -> datetime:
        """The first fire time strictly after ``now``."""
        following: datetime = croniter(self.cron, now.astimezone(tz)).get_next(datetime)
        return following


SEED_SCHEDULES: tuple[Schedule, ...] = (
    Schedule(name="cache_cleanup", cron="0 * * * *", queue="default", timeout_seconds=600),
    Schedule(
        name="training_dataset_analysis", cron="0 2 * * *", queue="default", timeout_seconds=1800
    ),
    Schedule(name="ab_test_analysis", cron="0 * * * *", queue="learning", timeout_seconds=1800),
    Schedule(name="rag_training", cron="0 3 * * *", queue="learning", timeout_seconds=2 * HOUR),
    Schedule(
        name="prompt_optimization", cron="0 2 * * 1", queue="optimization", timeout_seconds=HOUR
    ),
    Schedule(name="feedback_cleanup", cron="0 1 * * 0", queue="learning", timeout_seconds=1800),
    Schedule(name="learning_report", cron="0 9 * * 1", queue="learning", timeout_seconds=600),
)

#: Jobs with no schedule of their own, run by hand (``nb jobs run fine_tune --config …``)
#: or enqueued by another job (the analysis enqueues fine_tune and distillation; an
#: agent's last document enqueues agent_training). Their ``cron`` is empty: the
#: scheduler never ticks them.
ON_DEMAND_JOBS: tuple[Schedule, ...] = (
    Schedule(name="fine_tune", cron="", queue="training", timeout_seconds=2 * HOUR),
    Schedule(name="distillation", cron="", queue="training", timeout_seconds=2 * HOUR),
    Schedule(name="agent_training", cron="", queue="training", timeout_seconds=2 * HOUR),
)

#: Seed 001's manual-execution names (``python -m server.learning_jobs <name>``).
MANUAL_ALIASES = {
    "optimize_prompts": "prompt_optimization",
    "train_rag": "rag_training",
    "analyze_tests": "ab_test_analysis",
    "cleanup": "feedback_cleanup",
    "report": "learning_report",
}


def resolve_job(
    name: str, schedules: tuple[Schedule, ...] = SEED_SCHEDULES + ON_DEMAND_JOBS
) -> Schedule:
    """The schedule (or on-demand entry) for a job or seed-001 alias.

    Raises:
        KeyError: with the known names, when ``name`` is neither.
    """
    wanted = MANUAL_ALIASES.get(name, name)
    for schedule in schedules:
        if schedule.name == wanted:
            return schedule
    known = sorted({s.name for s in schedules} | set(MANUAL_ALIASES))
    raise KeyError(f"unknown job {name!r}; known: {', '.join(known)}")
