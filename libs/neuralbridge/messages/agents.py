"""Agents and their training documents (seed 002), as asked of the trainer over NATS.

Every request is a NATS request/reply on ``trainer.agents.<verb>`` (queue group
``trainer``: one replica answers) and every answer is an :class:`AgentReply`:

* ``create`` — :class:`AgentCreate`: a new agent, status ``pending``.
* ``upload`` — :class:`AgentUpload`: one document. Its bytes travel first, in
  the JetStream object store ``agent_uploads`` under ``object_name``; the
  trainer copies them to ``<AGENTS_DIR>/<agent_id>/<category>/<filename>`` and
  deletes the object. When the agent's ``expected_documents``-th document
  arrives, the documents are complete and ``agent_training`` is enqueued.
* ``train`` — :class:`AgentRef`: the documents are complete (seed 002's step 4
  → step 5); enqueue ``agent_training`` now (also a re-run after a failure).
* ``status`` — :class:`AgentRef`: the agent's state and documents.

A request the trainer refuses (unknown agent, bad file name, agent busy)
answers with ``error`` set and ``agent`` as it is (or ``None``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from neuralbridge.core.schemas import Message

__all__ = [
    "AGENT_STATUSES",
    "DOCUMENT_CATEGORIES",
    "AgentCreate",
    "AgentDocument",
    "AgentRef",
    "AgentReply",
    "AgentState",
    "AgentStatus",
    "AgentUpload",
    "DocumentCategory",
    "ModelConfig",
]

AgentStatus = Literal[
    "pending", "queued", "processing", "training", "completed", "failed", "cancelled"
]
AGENT_STATUSES: tuple[AgentStatus, ...] = (
    "pending", "queued", "processing", "training", "completed", "failed", "cancelled",
)  # fmt: skip

#: Seed 002's upload folders: step 1 work product, step 3 communication, step 4 reference.
DocumentCategory = Literal["work_product", "communication", "reference"]
DOCUMENT_CATEGORIES: tuple[DocumentCategory, ...] = ("work_product", "communication", "reference")

#: Training hyperparameters handed to the external trainer as ``model_config``.
ModelConfig = dict[str, str | int | float | bool]

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_AgentId = Annotated[str, msgspec.Meta(pattern=_UUID)]


class AgentCreate(Message, frozen=True, kw_only=True):
    """Create an agent.

    Attributes:
        name: Display name (seed 002's ``agent_name``).
        expected_documents: How many documents make the set complete; the
            upload of the last one enqueues training. ``None``: only
            ``nb agents train`` does.
        model_config: Training hyperparameters for the external trainer.
    """

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    expected_documents: Annotated[int, msgspec.Meta(ge=1, le=10_000)] | None = None
    model_config: ModelConfig = msgspec.field(default_factory=dict)


class AgentUpload(Message, frozen=True, kw_only=True):
    """One document of an agent, whose bytes are in the ``agent_uploads`` object store."""

    agent_id: _AgentId
    category: DocumentCategory = "reference"
    filename: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    object_name: Annotated[str, msgspec.Meta(min_length=1, max_length=600)]
    sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]


class AgentRef(Message, frozen=True, kw_only=True):
    """Names one agent (``status`` and ``train``)."""

    agent_id: _AgentId


class AgentDocument(msgspec.Struct, frozen=True, kw_only=True):
    """One stored document of an agent."""

    category: DocumentCategory
    filename: str
    size_bytes: int
    sha256: str
    uploaded_at: str


class AgentState(msgspec.Struct, frozen=True, kw_only=True):
    """An agent as the trainer's ``agents`` table has it.

    ``progress_percentage`` and ``step`` are the running training's (seed 002's
    ``training_progress``); ``results`` is what the external trainer printed.
    """

    agent_id: str
    name: str
    status: AgentStatus
    expected_documents: int | None
    model_config: ModelConfig
    documents: list[AgentDocument]
    run_id: str | None = None
    progress_percentage: float = 0.0
    step: str | None = None
    csv_path: str | None = None
    chunk_count: int | None = None
    results: dict[str, Any] | None = None
    error_message: str | None = None
    created_at: str
    updated_at: str


class AgentReply(Message, frozen=True, kw_only=True):
    """The answer to every ``trainer.agents.*`` request.

    Attributes:
        agent: The agent after the request (``None`` when it does not exist).
        error: Why the request was refused, or ``None``.
        enqueued_run_id: The ``agent_training`` run this request enqueued.
    """

    agent: AgentState | None = None
    error: str | None = None
    enqueued_run_id: str | None = None
