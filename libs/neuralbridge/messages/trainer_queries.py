"""Requests without parameters that the trainer answers.

The trainer's other requests carry their own types: ``trainer.query.failed``
:class:`~neuralbridge.messages.training.FailedRunsQuery`, ``trainer.command.retry``
:class:`~neuralbridge.messages.training.RetryRun`, ``trainer.query.report``
:class:`~neuralbridge.messages.learning.LearningReportQuery`.
"""

from __future__ import annotations

from neuralbridge.core.schemas import Message

__all__ = ["JobStatsQuery", "ListExperiments"]


class JobStatsQuery(Message, frozen=True, kw_only=True):
    """``trainer.query.stats``: no parameters (the reply is ``JobStatsReply``)."""


class ListExperiments(Message, frozen=True, kw_only=True):
    """``trainer.ab.list``: no parameters (the reply is ``ExperimentList``)."""
