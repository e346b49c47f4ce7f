"""The proxy pipeline: cache → RAG over Qdrant → LLM → guardrails → fallback.

Its business logic arrives with its own issue; today the service connects to
NATS and PostgreSQL, applies its migrations and reports healthy.
"""

from neuralbridge.proxy_pipeline.main import SERVICE

__all__ = ["SERVICE"]
