"""The scheduler loop: every due tick is enqueued once, whatever the replica count.

On each evaluation, for every schedule, the most recent due tick is compared
with the last tick recorded in KV ``scheduler_state``. If it is newer, a
:class:`JobRequest` is published with ``Nats-Msg-Id = <schedule>@<tick>`` (so
replicas that race publish one job) and the tick is recorded with a
compare-and-set (the replica that loses the race records nothing).

Missed ticks (the scheduler was down): the job runs **once** on return, for the
most recent tick, not once per missed tick; the log line says how many were
skipped. On the very first start (no state yet) only a tick less than
``first_run_grace`` old is enqueued; older ones are recorded as the baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import structlog
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from neuralbridge.core.bus import Bus
from neuralbridge.messages.jobs import JobRequest, job_subject
from neuralbridge.scheduler.schedules import Schedule

__all__ = ["Clock", "Scheduler", "TickState", "enqueue_now"]

log = structlog.get_logger()

Clock = Callable[[], datetime]


class TickState(msgspec.Struct, frozen=True, kw_only=True):
    """What KV remembers per schedule."""

    last_tick: str
    enqueued_at: str
    skipped: int = 0


class Scheduler:
    """Evaluate schedules against a clock and enqueue due ticks.

    Args:
        bus: The connection (queue streams and the KV bucket already declared).
        state: The ``scheduler_state`` bucket.
        schedules: What to run when.
        tz: Time zone of the cron expressions.
        clock: Current time (tests inject one).
        first_run_grace: How old a tick may be on the very first start and still run.
    """

    def __init__(
        self,
        bus: Bus,
        state: KeyValue,
        schedules: tuple[Schedule, ...],
        *,
        tz: ZoneInfo,
        clock: Clock = lambda: datetime.now(UTC),
        first_run_grace: timedelta = timedelta(minutes=1),
    ) -> None:
        self._bus, self._state, self._schedules = bus, state, schedules
        self._tz, self._clock, self._grace = tz, clock, first_run_grace

    async def tick(self) -> list[str]:
        """Evaluate once; return the ``<schedule>@<tick>`` ids this call enqueued."""
        now = self._clock()
        results = [await self._evaluate(schedule, now) for schedule in self._schedules]
        return [r for r in results if r is not None]

    async def _evaluate(self, schedule: Schedule, now: datetime) -> str | None:
        due = schedule.latest_due(now, self._tz)
        tick_id = f"{schedule.name}@{due.isoformat()}"
        try:
            entry = await self._state.get(schedule.name)
        except KeyNotFoundError:
            entry = None
        if entry is None or not entry.value:
            fresh = now - due <= self._grace
            if fresh:
                await self._enqueue(schedule, due, now)
            await self._record(schedule, due, now, revision=None, skipped=0)
            return tick_id if fresh else None
        last = datetime.fromisoformat(msgspec.json.decode(entry.value, type=TickState).last_tick)
        if due <= last:
            return None
        skipped = _ticks_between(schedule, last, due, self._tz)
        await self._enqueue(schedule, due, now)
        await self._record(schedule, due, now, revision=entry.revision, skipped=skipped)
        if skipped:
            log.warning("scheduler_missed_ticks", schedule=schedule.name, skipped=skipped)
        return tick_id

    async def _enqueue(self, schedule: Schedule, due: datetime, now: datetime) -> None:
        request = JobRequest(
            job=schedule.job_name,
            queue=schedule.queue,
            trigger="schedule",
            tick=due.isoformat(),
            requested_at=now.isoformat(),
            timeout_seconds=schedule.timeout_seconds,
        )
        ack = await self._bus.publish(
            job_subject(schedule.queue, schedule.job_name),
            request,
            msg_id=f"{schedule.name}@{due.isoformat()}",  # the tick id: one job per tick
        )
        log.info("job_enqueued", schedule=schedule.name, tick=due.isoformat(),
                 duplicate=bool(ack.duplicate))  # fmt: skip

    async def _record(
        self, schedule: Schedule, due: datetime, now: datetime, *, revision: int | None,
        skipped: int,
    ) -> None:  # fmt: skip
        state = msgspec.json.encode(
            TickState(last_tick=due.isoformat(), enqueued_at=now.isoformat(), skipped=skipped)
        )
        with contextlib.suppress(KeyWrongLastSequenceError):
            if revision is None:
                await self._state.create(schedule.name, state)
            else:
                await self._state.update(schedule.name, state, last=revision)

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0) -> None:
        """Evaluate every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # a bus hiccup must not kill the scheduler
                log.exception("scheduler_tick_failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await stop.wait()


def _ticks_between(schedule: Schedule, last: datetime, due: datetime, tz: ZoneInfo) -> int:
    """How many fire times fell strictly between ``last`` and ``due`` (capped)."""
    count, at = 0, last
    while count < 10_000:
        at = schedule.next_due(at, tz)
        if at >= due:
            return count
        count += 1
    return count


async def enqueue_now(
    bus: Bus, schedule: Schedule, *, config: dict[str, str | int | float | bool] | None = None
) -> str:
    """Enqueue one manual run; return its message id."""
    now = datetime.now(UTC)
    msg_id = f"manual:{schedule.name}:{now.isoformat()}"
    request = JobRequest(
        job=schedule.job_name,
        queue=schedule.queue,
        trigger="manual",
        requested_at=now.isoformat(),
        timeout_seconds=schedule.timeout_seconds,
        config=dict(config or {}),
    )
    await bus.publish(job_subject(schedule.queue, schedule.job_name), request, msg_id=msg_id)
    return msg_id
