"""Composition of the scheduler: seeds 000/001's schedules, enqueued once per tick."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.heartbeat import start_heartbeat
from neuralbridge.core.service import Deps, ServiceSpec
from neuralbridge.core.settings import CommonSettings
from neuralbridge.core.subjects import SCHEDULER_KV
from neuralbridge.scheduler.schedules import SEED_SCHEDULES
from neuralbridge.scheduler.ticker import Scheduler
from neuralbridge.scheduler.topology import declare_all

__all__ = ["SERVICE", "SchedulerSettings", "main", "time_zone"]


class SchedulerSettings(CommonSettings, frozen=True, kw_only=True):
    """``SCHEDULER_TIMEZONE`` (IANA name, default UTC), ``SCHEDULER_INTERVAL_SECONDS``."""

    scheduler_timezone: str = "UTC"
    scheduler_interval_seconds: float = msgspec.field(default=1.0)


def time_zone(name: str) -> ZoneInfo:
    """The zone, or a one-line ConfigError naming the variable."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"configuration error: SCHEDULER_TIMEZONE={name!r} is invalid: expected an IANA "
            "time zone such as UTC or America/Sao_Paulo"
        ) from None


async def main(deps: Deps[SchedulerSettings], stop: asyncio.Event) -> None:
    """Evaluate the schedules every interval until ``stop`` is set."""
    tz = time_zone(deps.settings.scheduler_timezone)
    await declare_all(deps.bus.js, replicas=deps.settings.nats_stream_replicas)
    deps.declared()
    start_heartbeat(deps, stop)
    state = await deps.bus.js.key_value(SCHEDULER_KV)
    scheduler = Scheduler(deps.bus, state, SEED_SCHEDULES, tz=tz)
    await scheduler.run(stop, interval=deps.settings.scheduler_interval_seconds)


SERVICE = ServiceSpec(
    name="scheduler", settings_type=SchedulerSettings, main=main, schema="scheduler"
)
