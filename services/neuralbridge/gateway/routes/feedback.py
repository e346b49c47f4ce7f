"""``POST /api/feedback``: a score for one answer (see :mod:`neuralbridge.gateway.feedback`)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, post
from litestar.di import NamedDependency

from neuralbridge.gateway.access import require_caller
from neuralbridge.gateway.feedback import FeedbackDesk, FeedbackInput, FeedbackReceipt
from neuralbridge.gateway.jsonbody import declare_body, read_json

__all__ = ["feedback_router"]


@post("/", status_code=200, summary="Score an answer (1-5), one per request, updatable")
async def give_feedback(
    request: Request[Any, Any, Any], feedback: NamedDependency[FeedbackDesk]
) -> FeedbackReceipt:
    """Store the score for ``request_id`` and publish it for the trainer."""
    return await feedback.give(await read_json(request, FeedbackInput))


declare_body("post", "/api/feedback", FeedbackInput)


feedback_router = Router(
    path="/api/feedback", route_handlers=[give_feedback], before_request=require_caller,
    tags=["feedback"],
)  # fmt: skip
