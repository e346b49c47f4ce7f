"""``GET /api/learning/report?week=YYYY-Www``: the trainer's weekly learning report.

The gateway asks the trainer (``trainer.query.report``, request/reply) and
returns the stored :class:`LearningReport` — the latest week's without
``week``. 400 names ``week`` when it is not written ``YYYY-Www`` (:data:`WEEK_PATTERN`,
the OpenAPI document's pattern), 404 when no report is stored for it (a week
its year does not have, such as 2025-W53, has none), 503 when no trainer is
answering, 504 when it did not answer within :data:`REPORT_TIMEOUT_SECONDS`.
"""

from __future__ import annotations

import re

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from neuralbridge.clients import RemoteError, TrainerUnavailableError
from neuralbridge.clients import jobs as client
from neuralbridge.core.bus import Bus
from neuralbridge.gateway.access import require_admin
from neuralbridge.gateway.errors import (
    InvalidRequestError,
    UnknownRequestError,
    UpstreamFailedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from neuralbridge.messages.learning import LearningReport, parse_week

__all__ = ["REPORT_TIMEOUT_SECONDS", "WEEK_PATTERN", "fetch_report", "learning_router"]

#: An ISO week as ``week`` takes it: years 1000-9999, weeks 01-53.
WEEK_PATTERN = r"^[1-9][0-9]{3}-W(?:0[1-9]|[1-4][0-9]|5[0-3])$"

#: How long the gateway waits for the trainer's answer.
REPORT_TIMEOUT_SECONDS = 10.0


async def fetch_report(bus: Bus, week: str | None, *, timeout: float) -> LearningReport:
    """Ask the trainer for ``week``'s report (the latest when None); map failures to HTTP."""
    if week is not None:
        if not re.fullmatch(WEEK_PATTERN, week):
            raise InvalidRequestError(
                f"week must be YYYY-Www (e.g. 2026-W47), not {week!r}", param="week"
            )
        try:
            parse_week(week)
        except ValueError as exc:
            raise UnknownRequestError(str(exc), code="report_not_found", param="week") from None
    try:
        reply = await client.learning_report(bus, week, timeout=timeout)
    except TrainerUnavailableError as exc:
        if exc.timed_out:
            raise UpstreamTimeoutError(str(exc), code="trainer_timeout") from None
        raise UpstreamUnavailableError(
            "no trainer is answering", code="trainer_unavailable"
        ) from None
    except RemoteError as exc:
        if exc.code == "invalid_request":
            raise InvalidRequestError(str(exc), param="week") from None
        raise UpstreamFailedError(str(exc), code=exc.code) from None
    if reply.report is not None:
        return reply.report
    message = reply.message or "no learning report"
    if reply.error == "invalid_request":
        raise InvalidRequestError(message, param="week")
    raise UnknownRequestError(message, code="report_not_found", param="week")


@get("/report", summary="The weekly learning report")
async def learning_report(
    bus: NamedDependency[Bus], week: FromQuery[str | None] = None
) -> LearningReport:
    """The learning report of ``week`` (ISO ``YYYY-Www``), or the latest one.

    Weekly metrics, their week-over-week change, and the week's job runs.
    """
    return await fetch_report(bus, week, timeout=REPORT_TIMEOUT_SECONDS)


learning_router = Router(
    path="/api/learning", route_handlers=[learning_report], before_request=require_admin,
    tags=["learning"],
)  # fmt: skip
