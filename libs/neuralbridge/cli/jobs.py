"""``nb scheduler setup|status|run`` and ``nb jobs run`` (seed 001's commands)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from nats.js.errors import BucketNotFoundError, KeyNotFoundError

from neuralbridge.core.bus import Bus
from neuralbridge.core.settings import load_settings
from neuralbridge.core.subjects import JOB_RESULTS_KV, SCHEDULER_KV
from neuralbridge.scheduler import SEED_SCHEDULES, SchedulerSettings, enqueue_now, resolve_job
from neuralbridge.scheduler.main import time_zone
from neuralbridge.scheduler.topology import declare_all

__all__ = ["scheduler_run", "scheduler_setup", "scheduler_status"]


async def scheduler_setup(bus: Bus) -> int:
    """Declare the queues and state bucket, and show what will run when."""
    await declare_all(bus.js)
    tz = time_zone(load_settings(SchedulerSettings).scheduler_timezone)
    now = datetime.now(UTC)
    for s in SEED_SCHEDULES:
        minutes = s.timeout_seconds / 60
        print(f"{s.name:27} {s.cron:12} queue={s.queue:12} timeout={minutes:>5.0f} min"
              f"  next {s.next_due(now, tz).isoformat()}")  # fmt: skip
    print("queues and state declared; the scheduler service enqueues each tick once")
    return 0


async def scheduler_status(bus: Bus, *, as_json: bool) -> int:
    """Per job: next and last run, last outcome."""
    tz = time_zone(load_settings(SchedulerSettings).scheduler_timezone)
    now = datetime.now(UTC)
    state = await _bucket(bus, SCHEDULER_KV)
    results = await _bucket(bus, JOB_RESULTS_KV)
    rows = []
    for s in SEED_SCHEDULES:
        last = await _value(state, s.name)
        outcome = await _value(results, s.job_name)
        rows.append({
            "job": s.name, "cron": s.cron, "queue": s.queue,
            "next_run": s.next_due(now, tz).isoformat(),
            "last_tick": (last or {}).get("last_tick", "never"),
            "last_outcome": (outcome or {}).get("status", "no outcome recorded yet"),
        })  # fmt: skip
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        print(f"{r['job']:27} next {r['next_run']:26} last {r['last_tick']:26} {r['last_outcome']}")
    return 0


async def scheduler_run(bus: Bus, job: str) -> int:
    """Enqueue one run of ``job`` now (schedule names and seed 001's aliases)."""
    try:
        schedule = resolve_job(job)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    await declare_all(bus.js)
    msg_id = await enqueue_now(bus, schedule)
    print(f"enqueued {schedule.job_name} on queue {schedule.queue} ({msg_id})")
    return 0


async def _bucket(bus: Bus, name: str) -> Any:
    try:
        return await bus.js.key_value(name)
    except BucketNotFoundError:
        return None


async def _value(kv: Any, key: str) -> dict[str, Any] | None:
    if kv is None:
        return None
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None
    return json.loads(entry.value) if entry.value else None
