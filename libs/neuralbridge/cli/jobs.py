"""``nb scheduler setup|status|run``, ``nb jobs run`` and ``nb jobs watch|failed|retry``.

The CLI never reads the trainer's tables: a run's live
state comes from KV ``trainer_runs`` (``watch`` follows the key), failed runs
and retries are requests the trainer answers (``trainer.query.failed``,
``trainer.command.retry``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import BucketNotFoundError, KeyNotFoundError

from neuralbridge.cli.datasets import Progress
from neuralbridge.clients import ClientError, RemoteError
from neuralbridge.clients import jobs as client
from neuralbridge.clients.jobs import TrainerUnavailableError, ask_trainer
from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import decode
from neuralbridge.core.settings import load_settings
from neuralbridge.core.subjects import (
    JOB_RESULTS_KV,
    SCHEDULER_KV,
    TRAINER_RUNS_KV,
)
from neuralbridge.messages.jobs import manual_run_id
from neuralbridge.messages.training import TERMINAL_STATUSES, JobRunState
from neuralbridge.scheduler import SEED_SCHEDULES, SchedulerSettings, enqueue_now, resolve_job
from neuralbridge.scheduler.main import time_zone
from neuralbridge.scheduler.topology import declare_all

__all__ = [
    "TrainerUnavailableError",
    "ask_trainer",
    "jobs_failed",
    "jobs_retry",
    "jobs_watch",
    "scheduler_run",
    "scheduler_setup",
    "scheduler_status",
]


async def scheduler_setup(bus: Bus) -> int:
    """Declare the queues and state bucket, and show what will run when."""
    await declare_all(bus.js, replicas=load_settings(SchedulerSettings).nats_stream_replicas)
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


async def scheduler_run(bus: Bus, job: str, *, config: Sequence[str] = ()) -> int:
    """Enqueue one run of ``job`` now (schedule names, seed 001's aliases, on-demand jobs).

    ``config`` items are ``KEY=VALUE``; values that read as a boolean or a number
    are sent as one. Prints the run id (``nb jobs watch`` follows it).
    """
    try:
        schedule = resolve_job(job)
        parsed = parse_config(config)
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    await declare_all(bus.js, replicas=load_settings(SchedulerSettings).nats_stream_replicas)
    msg_id = await enqueue_now(bus, schedule, config=parsed)
    run_id = manual_run_id(msg_id)
    print(f"enqueued {schedule.job_name} on queue {schedule.queue} as run {run_id}",
          file=sys.stderr)  # fmt: skip
    print(run_id)
    return 0


def parse_config(items: Sequence[str]) -> dict[str, str | int | float | bool]:
    """``["dataset_limit=200", "dry=true"]`` → ``{"dataset_limit": 200, "dry": True}``.

    Raises:
        ValueError: an item has no ``=`` or an empty key (the item is named).
    """
    config: dict[str, str | int | float | bool] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--config {item!r}: expected KEY=VALUE")
        config[key.strip()] = _scalar(raw.strip())
    return config


def _scalar(raw: str) -> str | int | float | bool:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            continue
    return raw


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


async def jobs_failed(bus: Bus, *, limit: int, as_json: bool) -> int:
    """The latest failed runs with their error (the failed job registry)."""
    try:
        reply = await client.failed_runs(bus, limit)
    except RemoteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if exc.code == "invalid_request" else 1
    except ClientError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if reply.error:
        print(f"error: {reply.error}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(msgspec.to_builtins(reply.runs), indent=2))
        return 0
    print(f"failed jobs: {len(reply.runs)}")
    for run in reply.runs:
        retried = f" (retried as {run.retried_as})" if run.retried_as else ""
        print(f"  - {run.job} {run.run_id} [{run.queue}] {run.finished_at or ''}: "
              f"{run.error_message or 'no error recorded'}{retried}")  # fmt: skip
    return 0


async def jobs_retry(bus: Bus, run_id: str, *, as_json: bool) -> int:
    """Re-enqueue a failed or cancelled run; print the new run's id."""
    try:
        reply = await client.retry_run(bus, run_id)
    except ClientError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(msgspec.to_builtins(reply), indent=2))
    if reply.code is not None:
        print(f"error: {reply.error}", file=sys.stderr)
        return 1
    if not as_json:
        print(reply.new_run_id)
        print(f"re-enqueued {reply.job} on queue {reply.queue} as run {reply.new_run_id}; "
              f"follow it with `nb jobs watch {reply.new_run_id}`", file=sys.stderr)  # fmt: skip
    return 0


async def jobs_watch(bus: Bus, run_id: str, *, as_json: bool, timeout: float) -> int:
    """Follow a run's live state until it ends: 0 when it completed, 1 otherwise.

    Shows a progress bar (or, with ``as_json``, each state as one JSON line); a
    run that already ended prints its final state at once.
    """
    try:
        runs = await bus.js.key_value(TRAINER_RUNS_KV)
    except BucketNotFoundError:
        print("the trainer has not started yet (no trainer_runs bucket)", file=sys.stderr)
        return 1
    watcher: Any = await runs.watch(run_id)  # nats.py leaves KeyWatcher untyped
    view = _RunView(as_json=as_json)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while (left := deadline - loop.time()) > 0:
            try:
                entry = await watcher.updates(timeout=min(left, 5.0))
            except NatsTimeoutError:
                continue
            if entry is None or not entry.value:  # end of the initial values, or a delete
                view.not_started(run_id)
                continue
            state = decode(entry.value, JobRunState)
            view.show(state)
            if state.status in TERMINAL_STATUSES:
                return view.finish(state)
    finally:
        await watcher.stop()
    view.close()
    print(f"run {run_id} did not end within {timeout:g}s", file=sys.stderr)
    return 1


class _RunView:
    """How ``nb jobs watch`` shows states: a progress bar, or JSON lines."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        self.bar: Progress | None = None
        self.seen = False
        self.warned = False

    def not_started(self, run_id: str) -> None:
        if not self.seen and not self.warned:
            self.warned = True
            print(f"run {run_id} has no state yet (not started, or an unknown id); waiting",
                  file=sys.stderr)  # fmt: skip

    def show(self, state: JobRunState) -> None:
        self.seen = True
        if self.as_json:
            print(json.dumps(msgspec.to_builtins(state)), flush=True)
            return
        self.bar = self.bar or Progress(100, state.job)
        note = state.status + (f": {state.step}" if state.step else "")
        self.bar.update(int(state.progress_percentage), note)

    def finish(self, state: JobRunState) -> int:
        self.close()
        if not self.as_json:
            error = f": {state.error_message}" if state.error_message else ""
            print(f"{state.status}: {state.job} run {state.run_id} "
                  f"({state.progress_percentage:g}%){error}")  # fmt: skip
        return 0 if state.status == "completed" else 1

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
