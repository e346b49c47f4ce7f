"""The jobs the trainer runs, by name (``JobRequest.job``)."""

from __future__ import annotations

from collections.abc import Iterable

from neuralbridge.trainer.analysis import run_analysis
from neuralbridge.trainer.placeholders import PLACEHOLDERS
from neuralbridge.trainer.runs import JobDef

__all__ = ["build_registry"]

_BUILT_IN: tuple[JobDef, ...] = (
    JobDef(name="training_dataset_analysis", run=run_analysis),
    *PLACEHOLDERS,
)


def build_registry(extra: Iterable[JobDef] = ()) -> dict[str, JobDef]:
    """The built-in jobs, plus ``extra`` ones (which replace built-ins of the same name)."""
    return {job.name: job for job in (*_BUILT_IN, *extra)}
