"""The scheduler: cron schedules that enqueue jobs exactly once per tick.

Its business logic arrives with its own issue; today the service connects to
NATS and PostgreSQL, applies its migrations and reports healthy.
"""

from neuralbridge.scheduler.main import SERVICE

__all__ = ["SERVICE"]
