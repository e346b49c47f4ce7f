"""``POST /api/feedback``: a score for one answer (see :mod:`neuralbridge.gateway.feedback`)."""

from __future__ import annotations

from litestar import Router, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from neuralbridge.gateway.access import require_caller
from neuralbridge.gateway.feedback import FeedbackDesk, FeedbackInput, FeedbackReceipt

__all__ = ["feedback_router"]


@post("/", status_code=200, summary="Score an answer (1-5), one per request, updatable")
async def give_feedback(
    data: JSONBody[FeedbackInput], feedback: NamedDependency[FeedbackDesk]
) -> FeedbackReceipt:
    """Store the score for ``request_id`` and publish it for the trainer."""
    return await feedback.give(data)


feedback_router = Router(
    path="/api/feedback", route_handlers=[give_feedback], before_request=require_caller,
    tags=["feedback"],
)  # fmt: skip
