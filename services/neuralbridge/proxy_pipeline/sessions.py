"""Conversation history per ``session_id`` in the JetStream KV bucket ``proxy_sessions``.

The bucket's TTL (``SESSION_TTL_SECONDS``) expires idle sessions; each key holds
the last ``SESSION_MAX_TURNS`` question/answer pairs, redacted. Keys are a hash
of the session id (KV keys allow few characters). A turn remembers its request
id, so a redelivered request does not append its turn twice. Two requests of one
session answered at once may each miss the other's turn (last write wins).
"""

from __future__ import annotations

import hashlib

import msgspec
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from neuralbridge.core.schemas import encode
from neuralbridge.llm import ChatMessage

__all__ = ["SessionStore", "Turn"]


class Turn(msgspec.Struct, frozen=True, kw_only=True):
    """One answered question of a session (redacted)."""

    request_id: str
    question: str
    answer: str


class _History(msgspec.Struct, frozen=True, kw_only=True):
    turns: list[Turn] = []


class SessionStore:
    """Read and append session turns."""

    def __init__(self, kv: KeyValue, *, max_turns: int) -> None:
        self._kv = kv
        self._max_turns = max_turns
        self._decoder = msgspec.json.Decoder(_History)

    async def history(self, session_id: str) -> list[ChatMessage]:
        """The session's recent turns as chat messages, oldest first."""
        messages: list[ChatMessage] = []
        for turn in (await self._load(session_id)).turns:
            messages.append(ChatMessage(role="user", content=turn.question))
            messages.append(ChatMessage(role="assistant", content=turn.answer))
        return messages

    async def append(self, session_id: str, turn: Turn) -> None:
        """Add ``turn`` (once) and keep the last ``max_turns``."""
        turns = (await self._load(session_id)).turns
        if any(t.request_id == turn.request_id for t in turns):
            return
        kept = [*turns, turn][-self._max_turns :]
        await self._kv.put(_key(session_id), encode(_History(turns=kept)))

    async def _load(self, session_id: str) -> _History:
        try:
            entry = await self._kv.get(_key(session_id))
        except KeyNotFoundError:
            return _History()
        if not entry.value:
            return _History()
        try:
            return self._decoder.decode(entry.value)
        except msgspec.DecodeError:
            return _History()


def _key(session_id: str) -> str:
    return "s." + hashlib.sha256(session_id.encode()).hexdigest()[:40]
