"""The trainer: runs the background jobs of every queue, and ingests what they learn from.

It owns PostgreSQL schema ``trainer`` (job runs, query logs, feedback), KV
``trainer_runs`` (live run state), ``job_results`` (last outcome per job) and
``trainer_cancels`` (cancellation requests). One :class:`JobRunner` per queue
of ``QUEUES`` dispatches :class:`JobRequest` to the registered jobs
(:mod:`.registry`); seed 000's per-error-class recovery is :mod:`.recovery`;
the daily training-data analysis is :mod:`.analysis`. Fine-tune, distillation
and the other learning jobs are registered placeholders that end ``cancelled``
until their issues land (:mod:`.placeholders`).
"""

from neuralbridge.trainer.main import SERVICE, make_main
from neuralbridge.trainer.settings import TrainerSettings

__all__ = ["SERVICE", "TrainerSettings", "make_main"]
