"""``POST /api/feedback``: a user's 1-5 score for one answer, one per request, updatable.

The request must have a logged answer (a ``query.logs.<request_id>`` event in
``QUERY_LOGS``, which the pipeline publishes just after answering: the gateway
waits up to 2 s for it), else 404. The comment is PII-redacted before it is stored or
published. The latest feedback is kept in KV ``proxy_feedback`` under the
request id (a new one replaces it; the bucket keeps 5 revisions), and each
one is published as :class:`~neuralbridge.messages.training.FeedbackGiven` to
``feedback.<request_id>`` (stream ``FEEDBACK``) for the trainer, with
``Nats-Msg-Id`` = ``feedback:<request_id>:<kv revision>``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated

import msgspec
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import encode
from neuralbridge.core.subjects import QUERY_LOGS_STREAM, feedback_subject, query_log_subject
from neuralbridge.gateway.errors import UnknownRequestError
from neuralbridge.guardrails import redact
from neuralbridge.messages.training import FeedbackGiven

__all__ = ["FeedbackDesk", "FeedbackInput", "FeedbackReceipt"]

#: Seconds to wait for the query-log event of a request answered a moment ago.
_LOG_WAIT = 2.0


class FeedbackInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A score for the answer to ``request_id``."""

    request_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F-]{32,36}$")]
    score: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: Annotated[str, msgspec.Meta(max_length=4000)] | None = None


class FeedbackReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """What was stored (``comment`` as redacted); ``updated`` when it replaced one."""

    request_id: str
    score: int
    comment: str | None
    updated: bool
    given_at: datetime


class FeedbackDesk:
    """Store and publish feedback.

    Args:
        bus: The gateway's NATS connection.
        kv: The ``proxy_feedback`` bucket.
    """

    def __init__(self, bus: Bus, kv: KeyValue) -> None:
        self._bus = bus
        self._kv = kv

    async def give(self, given: FeedbackInput) -> FeedbackReceipt:
        """Store ``given`` and publish it.

        Raises:
            UnknownRequestError: no answer was logged for the request id.
        """
        await self._require_answer(given.request_id)
        comment = redact(given.comment).text if given.comment else None
        event = FeedbackGiven(
            request_id=given.request_id, score=given.score, comment=comment,
            given_at=datetime.now(UTC),
        )  # fmt: skip
        updated = await self._exists(given.request_id)
        revision = await self._kv.put(given.request_id, encode(event))
        await self._bus.publish(
            feedback_subject(given.request_id), event,
            msg_id=f"feedback:{given.request_id}:{revision}",
        )  # fmt: skip
        return FeedbackReceipt(
            request_id=event.request_id, score=event.score, comment=event.comment,
            updated=updated, given_at=event.given_at,
        )  # fmt: skip

    async def _require_answer(self, request_id: str) -> None:
        """Wait up to ``_LOG_WAIT`` for the answer's query-log event (it follows the answer)."""
        deadline = time.monotonic() + _LOG_WAIT
        while True:
            try:
                await self._bus.js.get_last_msg(QUERY_LOGS_STREAM, query_log_subject(request_id))
            except NotFoundError:
                if time.monotonic() >= deadline:
                    raise UnknownRequestError(
                        f"request_id {request_id} has no answer to give feedback on",
                        code="unknown_request", param="request_id",
                    ) from None  # fmt: skip
                await asyncio.sleep(0.1)
            else:
                return

    async def _exists(self, request_id: str) -> bool:
        try:
            await self._kv.get(request_id)
        except KeyNotFoundError:
            return False
        return True
