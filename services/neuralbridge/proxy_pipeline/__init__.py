"""The proxy pipeline: input guardrails → cache → RAG over Qdrant → LLM → output
guardrails → fallback to API B.

Consumes ``PROXY_REQUESTS`` (subjects ``proxy.requests.>``, durable consumer
``proxy-pipeline``, DLQ ``DLQ_PROXY_REQUESTS``) and answers each request on its
core-NATS ``reply_to`` (deltas, then one final answer or failure; see
:mod:`neuralbridge.messages.proxy`). The response cache's persistent layer is
PostgreSQL (schema ``proxy_pipeline``), session history lives in the KV bucket
``proxy_sessions``, and answered queries are published to ``QUERY_LOGS``.
"""

from neuralbridge.proxy_pipeline.main import SERVICE
from neuralbridge.proxy_pipeline.settings import ProxyPipelineSettings
from neuralbridge.proxy_pipeline.topology import requests_work

__all__ = ["SERVICE", "ProxyPipelineSettings", "requests_work"]
