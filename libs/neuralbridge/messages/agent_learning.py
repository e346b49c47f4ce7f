"""Agent executions and the learning examples reviewed from them (seed 001, prompt optimization).

* :class:`AgentExecution` — what an application running an agent reports after
  each run, on ``agents.executions.<agent id>`` (stream ``AGENT_EXECUTIONS``,
  consumed by the trainer). ``id`` makes it idempotent: reporting the same
  execution again (for example once its feedback arrived) updates the
  feedback; an execution with feedback >= 4 becomes a ``pending`` learning
  example of its agent.
* :class:`LearningExampleQuery` (``trainer.query.learning_examples``) →
  :class:`LearningExampleList`; :class:`LearningExampleReview`
  (``trainer.command.review_example``) → :class:`LearningExampleReply` —
  ``nb learning examples list|approve|reject``. Only approved examples feed
  the ``prompt_optimization`` job.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from neuralbridge.core.schemas import Message

__all__ = [
    "EXAMPLE_STATUSES",
    "AgentExecution",
    "ExampleStatus",
    "LearningExample",
    "LearningExampleList",
    "LearningExampleQuery",
    "LearningExampleReply",
    "LearningExampleReview",
]

ExampleStatus = Literal["pending", "approved", "rejected"]
EXAMPLE_STATUSES: tuple[ExampleStatus, ...] = ("pending", "approved", "rejected")

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_Id = Annotated[str, msgspec.Meta(pattern=_UUID)]
_Text = Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)]


class AgentExecution(Message, frozen=True, kw_only=True):
    """One run of an agent, as the application that ran it reports it.

    Attributes:
        id: The execution's UUID (lower case), chosen by the reporter.
        agent_id: The agent's UUID (``nb agents create``).
        input: What the agent was asked.
        output: What it answered.
        executed_at: When it ran (epoch seconds).
        feedback_score: The user's rating 1-5, when there is one.
    """

    id: _Id
    agent_id: _Id
    input: _Text
    output: _Text
    executed_at: float
    feedback_score: Annotated[int, msgspec.Meta(ge=1, le=5)] | None = None


class LearningExample(msgspec.Struct, frozen=True, kw_only=True):
    """A candidate (input, expected output) pair of an agent and its review state."""

    id: str
    agent_id: str
    input: str
    expected_output: str
    status: ExampleStatus
    quality_score: float | None
    created_at: str
    reviewed_at: str | None = None


class LearningExampleQuery(Message, frozen=True, kw_only=True):
    """List examples, newest first, optionally of one agent and/or one status."""

    agent_id: _Id | None = None
    status: ExampleStatus | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 50


class LearningExampleList(Message, frozen=True, kw_only=True):
    """The examples asked for, or ``error``."""

    examples: list[LearningExample] = msgspec.field(default_factory=list)
    error: str | None = None


class LearningExampleReview(Message, frozen=True, kw_only=True):
    """Approve or reject one example."""

    id: _Id
    decision: Literal["approved", "rejected"]


class LearningExampleReply(Message, frozen=True, kw_only=True):
    """The reviewed example, or ``error`` (unknown id, invalid request)."""

    example: LearningExample | None = None
    error: str | None = None
