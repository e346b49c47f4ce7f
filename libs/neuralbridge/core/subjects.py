"""Stream names, subjects and consumer names: the bus contract, in one place.

Other services publish to these; changing one is a breaking change.
"""

from __future__ import annotations

__all__ = [
    "AB_EXPERIMENTS_KV",
    "AGENT_EXECUTIONS_CONSUMER",
    "AGENT_EXECUTIONS_STREAM",
    "AGENT_EXECUTIONS_SUBJECTS",
    "AGENT_UPLOADS_OBJECT_STORE",
    "ANSWER_MEMORY_KEY",
    "ANSWER_MEMORY_KV",
    "ANSWER_MEMORY_OBJECT_STORE",
    "DATASET_EVENTS_STREAM",
    "DATASET_EVENTS_SUBJECTS",
    "DATASET_INGEST_CONSUMER",
    "DATASET_INGEST_STREAM",
    "DATASET_INGEST_SUBJECTS",
    "DATASET_QUERY_SUBJECT",
    "DATASET_TRANSFORMS_CONSUMER",
    "DATASET_TRANSFORMS_DLQ_CONSUMER",
    "DATASET_TRANSFORMS_STREAM",
    "DATASET_TRANSFORMS_SUBJECTS",
    "FEEDBACK_KV",
    "FEEDBACK_STREAM",
    "FEEDBACK_SUBJECTS",
    "GATEWAY_RATELIMIT_SUBJECT",
    "JOB_RESULTS_KV",
    "PROXY_CACHE_CLEANUP_QUEUE",
    "PROXY_CACHE_CLEANUP_SUBJECT",
    "PROXY_CACHE_PURGE_SUBJECT",
    "PROXY_REQUESTS_CONSUMER",
    "PROXY_REQUESTS_STREAM",
    "PROXY_REQUESTS_SUBJECTS",
    "PROXY_SESSIONS_KV",
    "QUERY_LOGS_STREAM",
    "QUERY_LOGS_SUBJECTS",
    "RAG_ADAPTERS_KV",
    "RAG_ADAPTERS_OBJECT_STORE",
    "SCHEDULER_KV",
    "TRAINER_AB_SUBJECT",
    "TRAINER_AGENTS_SUBJECT",
    "TRAINER_CANCELS_KV",
    "TRAINER_COMMAND_SUBJECT",
    "TRAINER_EVENTS_STREAM",
    "TRAINER_EVENTS_SUBJECTS",
    "TRAINER_FEEDBACK_CONSUMER",
    "TRAINER_LEARNING_EXAMPLES_SUBJECT",
    "TRAINER_QUERY_LOGS_CONSUMER",
    "TRAINER_QUERY_SUBJECT",
    "TRAINER_REVIEW_EXAMPLE_SUBJECT",
    "TRAINER_RUNS_KV",
    "TRANSFORMS_KV",
    "UPLOADS_KV",
    "UPLOADS_OBJECT_STORE",
    "agent_execution_subject",
    "feedback_subject",
    "ingest_event_subject",
    "ingest_subject",
    "proxy_request_subject",
    "query_log_subject",
    "rag_adapter_key",
    "trainer_event_subject",
    "transform_event_subject",
]

#: Work published by other services; the bare subject must work (seed 004).
DATASET_TRANSFORMS_STREAM = "DATASET_TRANSFORMS"
DATASET_TRANSFORMS_SUBJECTS = ("DATASET_TRANSFORMS", "DATASET_TRANSFORMS.>")
DATASET_TRANSFORMS_CONSUMER = "worker-datasets"
DATASET_TRANSFORMS_DLQ_CONSUMER = "worker-datasets-dlq"

#: Document uploads to ingest into datasets (the gateway and `nb ingest` publish).
DATASET_INGEST_STREAM = "DATASET_INGEST"
DATASET_INGEST_SUBJECTS = ("dataset.ingest.>",)
DATASET_INGEST_CONSUMER = "worker-ingest"

#: Progress and completion events of transforms and ingests (Limits retention).
DATASET_EVENTS_STREAM = "DATASET_EVENTS"
DATASET_EVENTS_SUBJECTS = ("dataset.events.>",)

#: Request/reply reads the worker answers: ``dataset.query.list``, ``dataset.query.export``.
DATASET_QUERY_SUBJECT = "dataset.query"

#: Live state, one key per transform / upload.
TRANSFORMS_KV = "dataset_transforms"
UPLOADS_KV = "dataset_uploads"
#: Uploaded files waiting to be ingested (JetStream object store).
UPLOADS_OBJECT_STORE = "dataset_uploads"

#: Questions for the proxy pipeline (the gateway publishes; replies go to ``reply_to``).
PROXY_REQUESTS_STREAM = "PROXY_REQUESTS"
PROXY_REQUESTS_SUBJECTS = ("proxy.requests.>",)
PROXY_REQUESTS_CONSUMER = "proxy-pipeline"
#: Conversation history per session (JetStream KV with a TTL).
PROXY_SESSIONS_KV = "proxy_sessions"
#: Cache cleanup the trainer asks of the proxy pipeline (core NATS request/reply, no
#: stream): one instance (queue group ``PROXY_CACHE_CLEANUP_QUEUE``) deletes the expired
#: rows of the persistent cache; every instance purges the expired entries of its memory.
PROXY_CACHE_CLEANUP_SUBJECT = "proxy.cache.cleanup"
PROXY_CACHE_CLEANUP_QUEUE = "proxy-pipeline"
PROXY_CACHE_PURGE_SUBJECT = "proxy.cache.purge"

#: Core NATS: gateway replicas share the rate-limit tokens they hand out.
GATEWAY_RATELIMIT_SUBJECT = "gateway.ratelimit.usage"
#: Answered queries, redacted, for the trainer (Limits retention).
QUERY_LOGS_STREAM = "QUERY_LOGS"
QUERY_LOGS_SUBJECTS = ("query.logs.>",)


def proxy_request_subject(session_id: str) -> str:
    """``proxy.requests.<session token>``: where the gateway publishes a request."""
    return f"proxy.requests.{_token(session_id)}"


def query_log_subject(request_id: str) -> str:
    """``query.logs.<request id>``."""
    return f"query.logs.{_token(request_id)}"


def ingest_subject(dataset: str) -> str:
    """Where an upload for ``dataset`` is published."""
    return f"dataset.ingest.{_token(dataset)}"


def transform_event_subject(transform_id: str, kind: str) -> str:
    """``dataset.events.transform.<id>.<kind>`` (progress, completed, failed)."""
    return f"dataset.events.transform.{transform_id}.{kind}"


def ingest_event_subject(upload_id: str) -> str:
    """``dataset.events.ingest.<upload id>``."""
    return f"dataset.events.ingest.{upload_id}"


def _token(name: str) -> str:
    """A subject token from a free-form name (NATS tokens cannot hold . * > or spaces)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "_"


#: The scheduler's last enqueued tick per schedule (compare-and-set between replicas).
SCHEDULER_KV = "scheduler_state"
#: Outcomes of background jobs by job name (written by the trainer).
JOB_RESULTS_KV = "job_results"

#: User feedback on answers (the gateway publishes :class:`FeedbackGiven`; Limits retention).
FEEDBACK_STREAM = "FEEDBACK"
FEEDBACK_SUBJECTS = ("feedback.>",)
#: The latest feedback per request id (the gateway writes it; one key per request).
FEEDBACK_KV = "proxy_feedback"
#: The trainer's durable consumers on the event streams it ingests.
TRAINER_QUERY_LOGS_CONSUMER = "trainer-query-logs"
TRAINER_FEEDBACK_CONSUMER = "trainer-feedback"
#: Live state of trainer job runs, one key per run id.
TRAINER_RUNS_KV = "trainer_runs"
#: Agents and their documents (seed 002), request/reply the trainer answers:
#: ``trainer.agents.create|upload|train|status`` (``nb agents``).
TRAINER_AGENTS_SUBJECT = "trainer.agents"
#: Agent documents on their way to the trainer (JetStream object store; the trainer
#: copies each to the agent's folder and deletes the object).
AGENT_UPLOADS_OBJECT_STORE = "agent_uploads"
#: Executions of agents, reported by the applications running them (:class:`AgentExecution`
#: on ``agents.executions.<agent id>``); the trainer stores them for prompt optimization.
AGENT_EXECUTIONS_STREAM = "AGENT_EXECUTIONS"
AGENT_EXECUTIONS_SUBJECTS = ("agents.executions.>",)
AGENT_EXECUTIONS_CONSUMER = "trainer-agent-executions"
#: Learning examples (request/reply the trainer answers; ``nb learning examples``): list them,
#: and approve or reject one.
TRAINER_LEARNING_EXAMPLES_SUBJECT = "trainer.query.learning_examples"
TRAINER_REVIEW_EXAMPLE_SUBJECT = "trainer.command.review_example"
#: Cancellation requests for running jobs, one key per run id (``nb jobs cancel``).
TRAINER_CANCELS_KV = "trainer_cancels"
#: Request/reply reads the trainer answers: ``trainer.query.stats``, ``trainer.query.failed``.
TRAINER_QUERY_SUBJECT = "trainer.query"
#: A/B experiments, request/reply the trainer answers: ``trainer.ab.create|list|stop`` (``nb ab``).
TRAINER_AB_SUBJECT = "trainer.ab"
#: The A/B experiments, one key per experiment id (the trainer writes; the proxy pipeline
#: watches the running ones to assign variants).
AB_EXPERIMENTS_KV = "ab_experiments"
#: Request/reply actions the trainer carries out: ``trainer.command.retry``.
TRAINER_COMMAND_SUBJECT = "trainer.command"
#: Every state change of a job run, as an event (Limits retention; ``nb jobs watch``, gateway).
TRAINER_EVENTS_STREAM = "TRAINER_EVENTS"
TRAINER_EVENTS_SUBJECTS = ("trainer.events.>",)


#: The active query adapter per Qdrant collection (key: :func:`rag_adapter_key`), written
#: by the trainer's ``rag_training`` job and followed live by the proxy pipeline.
RAG_ADAPTERS_KV = "rag_adapters"
#: Every trained adapter's weights (``<collection>/v<version>.npy``), active or not.
RAG_ADAPTERS_OBJECT_STORE = "rag_adapters"


#: The active answer memory (issue 6, distillation): one key, :data:`ANSWER_MEMORY_KEY`, holding
#: an ``AnswerMemoryPointer`` written by the trainer's ``distillation`` job and followed live
#: by the proxy pipeline, which consults the memory before calling API B.
ANSWER_MEMORY_KV = "answer_memory"
ANSWER_MEMORY_KEY = "active"
#: Every promoted memory (``<run id>.json``, a ``MemoryArtifact``).
ANSWER_MEMORY_OBJECT_STORE = "answer_memory"


def rag_adapter_key(collection: str) -> str:
    """The ``rag_adapters`` KV key of ``collection``."""
    return _token(collection)


def feedback_subject(request_id: str) -> str:
    """``feedback.<request id>``: where feedback on one answer is published."""
    return f"feedback.{_token(request_id)}"


def trainer_event_subject(run_id: str, kind: str) -> str:
    """``trainer.events.<run id>.<kind>``: ``status`` (a new status) or ``progress``."""
    return f"trainer.events.{_token(run_id)}.{kind}"


def agent_execution_subject(agent_id: str) -> str:
    """``agents.executions.<agent id>``: where an agent's execution is reported."""
    return f"agents.executions.{_token(agent_id)}"
