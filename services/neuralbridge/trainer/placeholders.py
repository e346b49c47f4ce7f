"""Jobs whose real work arrives later: registered so nothing is silently dropped.

Each ends its run ``cancelled`` with the reason below (acked, not retried, and
visible in ``job_results`` and ``nb scheduler status``), instead of failing as
an unknown job or disappearing.
"""

from __future__ import annotations

from typing import Any

from neuralbridge.trainer.errors import CancelRunError
from neuralbridge.trainer.runs import JobDef, JobFn, RunContext

__all__ = ["PLACEHOLDERS", "TRAINING_BACKENDS_PENDING"]

TRAINING_BACKENDS_PENDING = "training backends arrive with issue 6"
_LEARNING_ISSUE_6 = "learning algorithms arrive with issue 6"
_ISSUE_5_REST = "not implemented yet (issue 5, trainer jobs still to build)"


def _cancelled(reason: str) -> JobFn:
    async def run(_: RunContext) -> dict[str, Any]:
        raise CancelRunError(reason)

    return run


#: name → (reason, is a cleanup job)
_PENDING: dict[str, tuple[str, bool]] = {
    "fine_tune": (TRAINING_BACKENDS_PENDING, False),
    "distillation": (TRAINING_BACKENDS_PENDING, False),
    "rag_training": (_LEARNING_ISSUE_6, False),
    "prompt_optimization": (_LEARNING_ISSUE_6, False),
    "ab_test_analysis": (_LEARNING_ISSUE_6, False),
    "cache_cleanup": (_ISSUE_5_REST, True),
    "feedback_cleanup": (_ISSUE_5_REST, True),
    "learning_report": (_ISSUE_5_REST, False),
}

PLACEHOLDERS: tuple[JobDef, ...] = tuple(
    JobDef(name=name, run=_cancelled(reason), cleanup=cleanup)
    for name, (reason, cleanup) in _PENDING.items()
)
