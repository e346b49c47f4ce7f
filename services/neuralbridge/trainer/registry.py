"""The jobs the trainer runs, by name (``JobRequest.job``)."""

from __future__ import annotations

from collections.abc import Iterable

from neuralbridge.trainer.ab_analysis import run_ab_analysis
from neuralbridge.trainer.agents import AGENT_TRAINING_JOB
from neuralbridge.trainer.analysis import run_analysis
from neuralbridge.trainer.cache_cleanup import run_cache_cleanup
from neuralbridge.trainer.distillation import distillation_job
from neuralbridge.trainer.feedback_cleanup import run_feedback_cleanup
from neuralbridge.trainer.fine_tune import run_fine_tune
from neuralbridge.trainer.prompt_optimization import prompt_optimization_job
from neuralbridge.trainer.rag_training import rag_training_job
from neuralbridge.trainer.report import run_learning_report
from neuralbridge.trainer.runs import JobDef

__all__ = ["build_registry"]

_BUILT_IN: tuple[JobDef, ...] = (
    JobDef(name="training_dataset_analysis", run=run_analysis),
    AGENT_TRAINING_JOB,
    JobDef(name="ab_test_analysis", run=run_ab_analysis),
    JobDef(name="fine_tune", run=run_fine_tune),
    JobDef(name="cache_cleanup", run=run_cache_cleanup, cleanup=True),
    JobDef(name="feedback_cleanup", run=run_feedback_cleanup, cleanup=True),
    JobDef(name="learning_report", run=run_learning_report),
    rag_training_job(),  # without Qdrant it cancels; main binds the service's client
    prompt_optimization_job(),  # without a chat model it cancels; main binds the env
    distillation_job(),  # lexical works as is; main binds the env (embedder credentials)
)


def build_registry(extra: Iterable[JobDef] = ()) -> dict[str, JobDef]:
    """The built-in jobs, plus ``extra`` ones (which replace built-ins of the same name)."""
    return {job.name: job for job in (*_BUILT_IN, *extra)}
