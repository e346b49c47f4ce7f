"""The trainer: fine-tuning, distillation, RAG training, prompt optimization, A/B
analysis, reports and cleanup jobs.

Its business logic arrives with its own issue; today the service connects to
NATS and PostgreSQL, applies its migrations and reports healthy.
"""

from neuralbridge.trainer.main import SERVICE

__all__ = ["SERVICE"]
