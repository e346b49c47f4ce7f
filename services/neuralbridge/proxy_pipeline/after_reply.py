"""What follows an answer, group-committed: session turns, query logs, cache rows.

Once a request is answered, its turn goes into the session history, a
:class:`QueryLogged` event into ``QUERY_LOGS`` and a new answer into the
response cache's PostgreSQL layer. Doing that per request costs NATS and
PostgreSQL round trips right when the next request wants the CPU; here the
handler hands them to :class:`AfterReply` and waits for the batch they land in.
A batch closes ``linger`` seconds after its first record (or at ``max_batch``
records) and is written with one compare-and-set per session, one ``INSERT``
for its cache rows and the query-log publishes pipelined, one batch at a time.
(The memory layer of the cache has the answer before the reply is sent.)

A session's next question reads its stored history plus the turns still
waiting here (:meth:`AfterReply.pending_turns`): a follow-up sent the moment an
answer arrives still sees the answer without cutting the batch short (on this
replica; another replica sees it once the batch is written, a few milliseconds
later).

Nothing is lost: the handler returns (and the runner acks the request) only
after its batch is stored; if storing fails, every handler of the batch raises
and the request is retried. The turn and the event are idempotent per request
id, so a retry repeats them harmlessly. A cache row that cannot be written is
only logged (``cache_persist_failed``): the answer stays in the memory layer.
The client never waits for any of this: the answer was sent before.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import asyncpg
import structlog

from neuralbridge.core.bus import Bus
from neuralbridge.core.subjects import query_log_subject
from neuralbridge.messages.proxy import QueryLogged
from neuralbridge.proxy_pipeline import metrics as m
from neuralbridge.proxy_pipeline.cache import CachedAnswer, ResponseCache
from neuralbridge.proxy_pipeline.sessions import SessionStore, Turn

__all__ = ["AfterReply"]

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class _Record:
    session_id: str
    turn: Turn | None
    event: QueryLogged
    cache_entry: tuple[str, CachedAnswer] | None


@dataclass(slots=True)
class _Batch:
    records: list[_Record] = field(default_factory=list)
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    full: asyncio.Event = field(default_factory=asyncio.Event)


class AfterReply:
    """Group commit of session turns, query-log events and cache rows (see the module docstring).

    Args:
        bus: Where the query-log events are published.
        sessions: The session store.
        cache: The response cache (its persistent layer).
        linger: Seconds a batch stays open after its first record.
        max_batch: Records that close a batch at once.
    """

    def __init__(
        self,
        bus: Bus,
        sessions: SessionStore,
        cache: ResponseCache,
        *,
        linger: float,
        max_batch: int = 256,
    ) -> None:
        self._bus = bus
        self._sessions = sessions
        self._cache = cache
        self._linger = linger
        self._max_batch = max_batch
        self._open: _Batch | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._queue: asyncio.Queue[_Batch | None] = asyncio.Queue()
        self._pending: dict[str, list[Turn]] = {}  # turns recorded, not yet stored, in order

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

    async def record(
        self,
        session_id: str,
        turn: Turn | None,
        event: QueryLogged,
        cache_entry: tuple[str, CachedAnswer] | None = None,
    ) -> None:
        """Add one answered request (and its new cache entry); return once its batch is stored.

        ``turn`` is ``None`` when the client keeps the conversation itself.

        Raises:
            Exception: storing the batch failed (the request should be retried).
        """
        record = _Record(session_id, turn, event, cache_entry)
        if self._closing or self._writer is None or self._writer.done():
            await self._store([record])  # not running: no batching
            return
        batch = self._open
        if batch is None:
            batch = self._open = _Batch()
            self._queue.put_nowait(batch)
        batch.records.append(record)
        if turn is not None:
            self._pending.setdefault(session_id, []).append(turn)
        if len(batch.records) >= self._max_batch:
            self._close_batch(batch)
        await asyncio.shield(batch.done)

    def pending_turns(self, session_id: str) -> list[Turn]:
        """The session's turns recorded here and not yet stored, oldest first.

        Take them before reading the stored history: a turn stored in between is
        then in both (the same request id), never in neither.
        """
        return list(self._pending.get(session_id, ()))

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
            for record in batch.records:
                if record.turn is not None:
                    self._forget(record.session_id, record.turn)

    def _forget(self, session_id: str, turn: Turn) -> None:
        """``turn`` is stored (or failed, and its request will be retried): no longer pending."""
        turns = self._pending.get(session_id)
        if turns is None:
            return
        with contextlib.suppress(ValueError):
            turns.remove(turn)
        if not turns:
            del self._pending[session_id]

    async def _persist(self, entries: list[tuple[str, CachedAnswer]]) -> None:
        """Cache rows are an optimisation: a failure is logged, not retried with the batch."""
        try:
            await self._cache.persist(entries)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("cache_persist_failed", entries=len(entries), error=str(exc))

    async def _store(self, records: list[_Record]) -> None:
        m.AFTER_REPLY_BATCH.observe(len(records))
        by_session: dict[str, list[Turn]] = {}
        for record in records:
            if record.turn is not None:
                by_session.setdefault(record.session_id, []).append(record.turn)
        entries = [r.cache_entry for r in records if r.cache_entry is not None]
        with m.stage("session"):
            await asyncio.gather(
                *(self._sessions.append_turns(sid, turns) for sid, turns in by_session.items()),
                self._persist(entries),
            )
        with m.stage("query_log"):
            await asyncio.gather(
                *(
                    self._bus.publish(
                        query_log_subject(r.event.request_id),
                        r.event,
                        msg_id=f"query-log:{r.event.request_id}",
                    )
                    for r in records
                )
            )
