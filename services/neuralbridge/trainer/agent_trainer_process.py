"""The external agent trainer (seed 002's Cerebros wrapper) as a supervised child process.

The contract, as the seed runs it (``python3 train_model_wrapper.py payload.json``):

* **argv**: the configured command, then the payload file's path as the last argument.
* **payload file**: a JSON object ``{"agent_id", "agent_name", "csv_path", "model_config"}``.
* **stdout**, read line by line while the trainer runs:

  - a progress line, either ``PROGRESS <percent> [step text]`` or a JSON object with
    only ``progress`` (a number) and optionally ``step``, e.g. ``{"progress": 42,
    "step": "epoch 3"}``. Percentages are clamped to 0-100 and progress only ever
    goes up: a lower number than one already seen keeps the higher one (its step
    text is still shown).
  - the **results**: a JSON object with a ``status`` key (the seed's training status,
    output directory, chunk count, model configuration, timestamp). The last one
    printed wins; a pretty-printed object that ends stdout is accepted too.
  - anything else is log output and is ignored.
* **success**: exit status 0 and results whose ``status`` is not ``failed``/``error``.
  A non-zero exit fails the run with the exit status and the tail of stderr; exit 0
  without results fails it as unusable output; results with ``status`` ``failed``
  or ``error`` fail it with their ``error`` (or ``message``) field.
* **limits**: the child gets its own session (process group). When it runs longer
  than its timeout, or the run is cancelled, the whole group gets SIGTERM and,
  :data:`KILL_GRACE_SECONDS` later, SIGKILL; whatever the group left running after
  a normal exit is killed too. Cancellation is checked every :data:`POLL_SECONDS`
  and at every progress line.

::

    TrainerError                      (neuralbridge.trainer.errors; these in .agent_trainer_output)
    └── AgentTrainerError             the trainer cannot be started or did not train
        ├── AgentTrainerExitError     non-zero exit status (stderr tail in the message)
        ├── AgentTrainerTimeoutError  ran longer than its time limit; killed
        └── AgentTrainerOutputError   exit 0 but no usable results JSON on stdout
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from neuralbridge.trainer.agent_trainer_output import (
    FAILED_STATUSES,
    AgentTrainerError,
    AgentTrainerExitError,
    AgentTrainerOutputError,
    AgentTrainerTimeoutError,
    ProgressLine,
    parse_progress,
    parse_results,
)

__all__ = [
    "KILL_GRACE_SECONDS",
    "POLL_SECONDS",
    "AgentTrainerError",
    "AgentTrainerExitError",
    "AgentTrainerOutputError",
    "AgentTrainerTimeoutError",
    "ProgressLine",
    "TrainerCommand",
    "parse_progress",
    "parse_results",
    "run_trainer",
]

log = structlog.get_logger()

#: Seconds between SIGTERM and SIGKILL of the trainer's process group.
KILL_GRACE_SECONDS = 5.0
#: Seconds between cancellation checks while the trainer is quiet.
POLL_SECONDS = 0.5
_LINE_LIMIT = 4 * 1024 * 1024
_STDERR_TAIL = 1500
_KEPT_LINES = 2000

ProgressFn = Callable[[float, str | None], Awaitable[None]]
CancelCheck = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class TrainerCommand:
    """How to start the trainer: ``argv`` (the payload path is appended) and its limit."""

    argv: tuple[str, ...]
    timeout: float
    cwd: Path | None = None


async def run_trainer(
    command: TrainerCommand,
    payload_path: Path,
    *,
    on_progress: ProgressFn,
    check_cancelled: CancelCheck,
) -> dict[str, Any]:
    """Run the trainer on ``payload_path`` and return its results object.

    Args:
        command: The command and its time limit.
        payload_path: The payload JSON file (appended to ``argv``).
        on_progress: Called with each progress that is higher than the last one,
            or names a new step; it may raise to stop the trainer (cancellation).
        check_cancelled: Raises when the run should stop; polled while the
            trainer is quiet.

    Raises:
        AgentTrainerError: the trainer cannot be started, failed, timed out, or
            printed no usable results.
        Exception: whatever ``on_progress`` or ``check_cancelled`` raised (the
            process group is killed first).
    """
    argv = (*command.argv, str(payload_path))
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=_LINE_LIMIT,
            cwd=command.cwd,
        )  # fmt: skip
    except OSError as exc:
        raise AgentTrainerError(
            f"cannot start the external trainer {argv[0]!r}: {exc.strerror or exc}"
        ) from None
    log.info("agent_trainer_started", pid=proc.pid, command=argv[0])
    supervisor = _Supervisor(proc, on_progress)
    limit = asyncio.timeout(command.timeout)
    try:
        async with limit:
            await supervisor.wait(check_cancelled)
    except TimeoutError:
        if not limit.expired():
            raise
        raise AgentTrainerTimeoutError(
            f"the trainer ran longer than its {command.timeout:g}s time limit and was killed"
            f"{supervisor.stderr_note()}"
        ) from None
    finally:
        await supervisor.kill()
        await supervisor.close()
    return supervisor.outcome()


class _Supervisor:
    """Reads one trainer's stdout and stderr while waiting for it to exit."""

    def __init__(self, proc: asyncio.subprocess.Process, on_progress: ProgressFn) -> None:
        self._proc, self._on_progress = proc, on_progress
        self._lines: deque[str] = deque(maxlen=_KEPT_LINES)
        self._stderr = bytearray()
        self._best = -1.0
        self._step: str | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._killed = False

    async def wait(self, check_cancelled: CancelCheck) -> None:
        """Return when the trainer exited and its output is read; raise what a callback raised."""
        stdout = asyncio.create_task(self._read_stdout())
        stderr = asyncio.create_task(self._read_stderr())
        exited = asyncio.create_task(self._proc.wait())
        poller = asyncio.create_task(_poll(check_cancelled))
        self._tasks = [stdout, stderr, exited, poller]
        pending: set[asyncio.Task[Any]] = {stdout, exited, poller}
        while exited in pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a raising reader or poller stops the trainer
        poller.cancel()
        await self.kill()  # nothing of the trainer outlives it (nor holds its stdout open)
        await asyncio.wait({stdout, stderr}, timeout=KILL_GRACE_SECONDS)
        if stdout.done():
            stdout.result()

    async def kill(self) -> None:
        """Kill the trainer's process group (once) and reap the trainer."""
        if not self._killed:
            self._killed = True
            await _kill_group(self._proc)

    async def close(self) -> None:
        """Stop the readers and the poller."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def outcome(self) -> dict[str, Any]:
        """The results, or the error the exit status and output call for."""
        code = self._proc.returncode
        if code != 0:
            how = f"was killed by signal {-code}" if code is not None and code < 0 else (
                f"exited with status {code}"
            )  # fmt: skip
            raise AgentTrainerExitError(f"the trainer {how}{self.stderr_note()}")
        results = parse_results(list(self._lines))
        status = str(results.get("status", "")).lower()
        if status in FAILED_STATUSES:
            reason = results.get("error") or results.get("message") or "no reason given"
            raise AgentTrainerError(f"the trainer reported status {status!r}: {reason}")
        return results

    def stderr_note(self) -> str:
        """``"; stderr: <tail>"``, or ``""`` when the trainer wrote nothing to stderr."""
        tail = self._stderr.decode("utf-8", errors="replace").strip()
        if not tail:
            return ""
        return f"; stderr: {tail[-_STDERR_TAIL:]}"

    async def _read_stdout(self) -> None:
        stream = self._proc.stdout
        assert stream is not None
        while True:
            try:
                raw = await stream.readline()
            except ValueError:
                raise AgentTrainerOutputError(
                    f"the trainer printed a line longer than {_LINE_LIMIT} bytes on stdout"
                ) from None
            if not raw:
                return
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            progress = parse_progress(line)
            if progress is None:
                self._lines.append(line)
                continue
            await self._report(progress)

    async def _report(self, progress: ProgressLine) -> None:
        higher = progress.percentage > self._best
        new_step = progress.step is not None and progress.step != self._step
        if not (higher or new_step):
            return
        self._best = max(self._best, progress.percentage)
        self._step = progress.step if progress.step is not None else self._step
        await self._on_progress(self._best, self._step)

    async def _read_stderr(self) -> None:
        stream = self._proc.stderr
        assert stream is not None
        while chunk := await stream.read(65536):
            self._stderr += chunk
            del self._stderr[: -_STDERR_TAIL * 4]


async def _poll(check_cancelled: CancelCheck) -> None:
    while True:
        await asyncio.sleep(POLL_SECONDS)
        await check_cancelled()


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the trainer's process group, SIGKILL it after the grace period; reap it."""
    if proc.returncode is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), KILL_GRACE_SECONDS)
        except TimeoutError:
            log.warning("agent_trainer_kill", pid=proc.pid)
        else:
            log.info("agent_trainer_terminated", pid=proc.pid, returncode=proc.returncode)
    _signal_group(proc.pid, signal.SIGKILL)  # the child and anything it left behind
    await proc.wait()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
