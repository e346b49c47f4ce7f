"""Conversation history per ``session_id`` in the JetStream KV bucket ``proxy_sessions``.

The bucket's TTL (``SESSION_TTL_SECONDS``) expires idle sessions; each key holds
the last ``SESSION_MAX_TURNS`` question/answer pairs, redacted. Keys are a hash
of the session id (KV keys allow few characters). A turn remembers its request
id, so a redelivered request does not append its turn twice.

Writes are compare-and-set on the key's revision: two replicas appending to one
session at once both keep their turns (the loser re-reads and retries). The
store remembers the last revision it read or wrote for recently used sessions,
so an append is usually one KV write and no read; a stale memory only costs the
retry.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import msgspec
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from neuralbridge.core.schemas import encode
from neuralbridge.llm import ChatMessage

__all__ = ["SessionStore", "Turn"]

#: Compare-and-set attempts before an append falls back to last-write-wins.
_ATTEMPTS = 5


class Turn(msgspec.Struct, frozen=True, kw_only=True):
    """One answered question of a session (redacted)."""

    request_id: str
    question: str
    answer: str


class _History(msgspec.Struct, frozen=True, kw_only=True):
    turns: list[Turn] = []


class SessionStore:
    """Read and append session turns.

    Args:
        kv: The ``proxy_sessions`` bucket.
        max_turns: Turns kept per session.
        remembered: Sessions whose last revision is kept in memory (LRU).
    """

    def __init__(self, kv: KeyValue, *, max_turns: int, remembered: int = 1024) -> None:
        self._kv = kv
        self._max_turns = max_turns
        self._decoder = msgspec.json.Decoder(_History)
        self._known: OrderedDict[str, tuple[int, _History]] = OrderedDict()
        self._remembered = remembered

    async def history(self, session_id: str, pending: Sequence[Turn] = ()) -> list[ChatMessage]:
        """The session's recent turns as chat messages, oldest first.

        ``pending``: turns recorded but maybe not stored yet, appended unless stored
        (by request id); the last ``max_turns`` are kept.
        """
        messages: list[ChatMessage] = []
        _, history = await self._read(_key(session_id))
        turns = history.turns
        if pending:
            stored = {t.request_id for t in turns}
            turns = [*turns, *(t for t in pending if t.request_id not in stored)]
            turns = turns[-self._max_turns :]
        for turn in turns:
            messages.append(ChatMessage(role="user", content=turn.question))
            messages.append(ChatMessage(role="assistant", content=turn.answer))
        return messages

    async def append(self, session_id: str, turn: Turn) -> None:
        """Add ``turn`` (once) and keep the last ``max_turns``."""
        await self.append_turns(session_id, [turn])

    async def append_turns(self, session_id: str, turns: Sequence[Turn]) -> None:
        """Add ``turns`` in order, each once, in one write; keep the last ``max_turns``."""
        key = _key(session_id)
        for attempt in range(_ATTEMPTS + 1):
            known = self._known.get(key)
            revision, history = known if known is not None else await self._read(key)
            stored = {t.request_id for t in history.turns}
            new = [t for t in turns if t.request_id not in stored]
            if not new:
                return
            kept = _History(turns=[*history.turns, *new][-self._max_turns :])
            value = encode(kept)
            try:
                if attempt == _ATTEMPTS:  # contended all along: last write wins
                    revision = await self._kv.put(key, value)
                elif revision:
                    revision = await self._kv.update(key, value, last=revision)
                else:
                    revision = await self._kv.create(key, value)
            except KeyWrongLastSequenceError:
                self._known.pop(key, None)  # someone else wrote: read it again
                continue
            self._remember(key, revision, kept)
            return

    async def _read(self, key: str) -> tuple[int, _History]:
        """The key's revision (0: none) and history, remembered."""
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            self._known.pop(key, None)
            return 0, _History()
        history = _History()
        if entry.value:
            with contextlib.suppress(msgspec.DecodeError):  # unreadable: start over
                history = self._decoder.decode(entry.value)
        revision = entry.revision or 0
        self._remember(key, revision, history)
        return revision, history

    def _remember(self, key: str, revision: int, history: _History) -> None:
        self._known[key] = (revision, history)
        self._known.move_to_end(key)
        while len(self._known) > self._remembered:
            self._known.popitem(last=False)


def _key(session_id: str) -> str:
    return "s." + hashlib.sha256(session_id.encode()).hexdigest()[:40]
