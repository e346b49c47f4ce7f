"""What follows an answer, group-committed: session turns and query-log events.

Once a request is answered, its turn goes into the session history and a
:class:`QueryLogged` event into ``QUERY_LOGS``. Doing both per request costs
three NATS round trips right when the next request wants the CPU; here the
handler hands them to :class:`AfterReply` and waits for the batch they land in.
A batch closes ``linger`` seconds after its first record (or at ``max_batch``
records) and is written with one compare-and-set per session and the query-log
publishes pipelined, one batch at a time.

A session's next question reads its history after :meth:`AfterReply.settle`,
which writes that session's pending turns at once: a follow-up sent the moment
an answer arrives still sees the answer (on this replica; another replica sees
it once the batch is written, a few milliseconds later).

Nothing is lost: the handler returns (and the runner acks the request) only
after its batch is stored; if storing fails, every handler of the batch raises
and the request is retried. Both writes are idempotent per request id, so a
retry repeats them harmlessly. The client never waits for any of this: the
answer was sent before.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import structlog

from neuralbridge.core.bus import Bus
from neuralbridge.core.subjects import query_log_subject
from neuralbridge.messages.proxy import QueryLogged
from neuralbridge.proxy_pipeline import metrics as m
from neuralbridge.proxy_pipeline.sessions import SessionStore, Turn

__all__ = ["AfterReply"]

log = structlog.get_logger()


@dataclass(slots=True)
class _Batch:
    records: list[tuple[str, Turn, QueryLogged]] = field(default_factory=list)
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    full: asyncio.Event = field(default_factory=asyncio.Event)


class AfterReply:
    """Group commit of session turns and query-log events (see the module docstring).

    Args:
        bus: Where the query-log events are published.
        sessions: The session store.
        linger: Seconds a batch stays open after its first record.
        max_batch: Records that close a batch at once.
    """

    def __init__(
        self, bus: Bus, sessions: SessionStore, *, linger: float, max_batch: int = 256
    ) -> None:
        self._bus = bus
        self._sessions = sessions
        self._linger = linger
        self._max_batch = max_batch
        self._open: _Batch | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._queue: asyncio.Queue[_Batch | None] = asyncio.Queue()
        self._by_session: dict[str, _Batch] = {}  # the last unwritten batch with its turns

    def start(self) -> None:
        """Start the writer (one batch at a time, in order)."""
        self._writer = asyncio.create_task(self._write_batches())

    async def close(self) -> None:
        """Write what is still open, then stop (later records are stored one by one)."""
        self._closing = True
        if self._open is not None:
            self._close_batch(self._open)
        self._queue.put_nowait(None)
        if self._writer is not None:
            await self._writer

    async def record(self, session_id: str, turn: Turn, event: QueryLogged) -> None:
        """Add one answered request; return once its batch is stored.

        Raises:
            Exception: storing the batch failed (the request should be retried).
        """
        if self._closing or self._writer is None or self._writer.done():
            await self._store([(session_id, turn, event)])  # not running: no batching
            return
        batch = self._open
        if batch is None:
            batch = self._open = _Batch()
            self._queue.put_nowait(batch)
        batch.records.append((session_id, turn, event))
        self._by_session[session_id] = batch
        if len(batch.records) >= self._max_batch:
            self._close_batch(batch)
        await asyncio.shield(batch.done)

    async def settle(self, session_id: str) -> None:
        """Write the session's pending turns now and wait for them (errors are the handlers')."""
        batch = self._by_session.get(session_id)
        if batch is None:
            return
        self._close_batch(batch)
        with contextlib.suppress(Exception):
            await asyncio.shield(batch.done)

    def _close_batch(self, batch: _Batch) -> None:
        """No more records for ``batch``: the writer takes it without lingering."""
        if self._open is batch:
            self._open = None
        batch.full.set()

    async def _write_batches(self) -> None:
        while (batch := await self._queue.get()) is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(batch.full.wait(), self._linger)
            if self._open is batch:
                self._open = None
            try:
                await self._store(batch.records)
            except Exception as exc:  # noqa: BLE001 - every waiter gets it and retries
                log.warning("after_reply_failed", records=len(batch.records), error=str(exc))
                batch.done.set_exception(exc)
                batch.done.exception()  # retrieved here too: no "never retrieved" noise
            else:
                batch.done.set_result(None)
            for session_id, _, _ in batch.records:
                if self._by_session.get(session_id) is batch:
                    del self._by_session[session_id]

    async def _store(self, records: list[tuple[str, Turn, QueryLogged]]) -> None:
        m.AFTER_REPLY_BATCH.observe(len(records))
        by_session: dict[str, list[Turn]] = {}
        for session_id, turn, _ in records:
            by_session.setdefault(session_id, []).append(turn)
        with m.stage("session"):
            await asyncio.gather(
                *(self._sessions.append_turns(sid, turns) for sid, turns in by_session.items())
            )
        with m.stage("query_log"):
            await asyncio.gather(
                *(
                    self._bus.publish(
                        query_log_subject(event.request_id),
                        event,
                        msg_id=f"query-log:{event.request_id}",
                    )
                    for _, _, event in records
                )
            )
