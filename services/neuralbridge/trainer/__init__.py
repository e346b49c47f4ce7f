"""The trainer: runs the background jobs of every queue, and ingests what they learn from.

It owns PostgreSQL schema ``trainer`` (job runs, query logs, feedback, and
each job's own records), KV ``trainer_runs`` (live run state, also published
as events on ``TRAINER_EVENTS``), ``job_results`` (last outcome per job) and
``trainer_cancels`` (cancellation requests). One :class:`JobRunner` per queue
of ``QUEUES`` dispatches :class:`JobRequest` to the registered jobs
(:mod:`.registry`); seed 000's per-error-class recovery is :mod:`.recovery`.
The jobs: training-data analysis (:mod:`.analysis`), cache and feedback
cleanup, the learning report (:mod:`.report`), the agent training pipeline
(:mod:`.agents`), fine-tuning (:mod:`.fine_tune`), distillation, RAG training,
prompt optimization and A/B analysis (:mod:`.ab_analysis`).
"""

from neuralbridge.trainer.main import SERVICE, make_main
from neuralbridge.trainer.settings import TrainerSettings

__all__ = ["SERVICE", "TrainerSettings", "make_main"]
