"""Dataset ingestion and transform messages (DATASET_INGEST, DATASET_TRANSFORMS, events).

Other services publish :class:`TransformJob` to the subject ``DATASET_TRANSFORMS``
and :class:`IngestJob` to ``dataset.ingest.<dataset>``. Embedder credentials are
never inside a message: :class:`~neuralbridge.embedders.EmbedderProfile` names
the environment variable the worker reads the key from.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from neuralbridge.core.schemas import Message
from neuralbridge.embedders import EmbedderProfile

__all__ = ["IngestJob", "IngestState", "TransformJob", "TransformState"]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
MetadataValue = str | int | float | bool | None


class TransformJob(Message, frozen=True, kw_only=True):
    """Embed a dataset's chunks into a Qdrant collection.

    ``operation`` maps seed 000's EmbedJob operations: ``dataset`` (everything;
    with ``switch_alias`` it is the "reprocess for a new model" case: fill a new
    collection, then point the alias at it only when complete), ``document``
    (one item, by ``source_file``) and ``chunk`` (one chunk of that item).
    """

    transform_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f-]{36}$")]
    dataset: Name
    embedder: EmbedderProfile
    collection: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,200}$")]
    operation: Literal["dataset", "document", "chunk"] = "dataset"
    source_file: str | None = None
    chunk_index: Annotated[int, msgspec.Meta(ge=0)] | None = None
    switch_alias: str | None = None


class TransformState(Message, frozen=True, kw_only=True):
    """Live state of a transform (KV ``dataset_transforms``, and progress events)."""

    transform_id: str
    dataset: str
    collection: str
    status: Literal["pending", "running", "completed", "failed"]
    total_chunks: int = 0
    embedded_chunks: int = 0
    batches_done: int = 0
    embedder_calls: int = 0
    cache_hits: int = 0
    points: int = 0
    error: str | None = None
    updated_at: str = ""


class IngestJob(Message, frozen=True, kw_only=True):
    """Extract, chunk and store one uploaded file (bytes in the uploads object store)."""

    upload_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f-]{36}$")]
    dataset: Name
    object_name: str
    filename: Name
    custom_metadata: dict[str, MetadataValue] = msgspec.field(default_factory=dict)
    chunk_size: Annotated[int, msgspec.Meta(ge=16, le=100_000)] | None = None
    chunk_overlap: Annotated[int, msgspec.Meta(ge=0)] | None = None
    chunk_unit: Literal["chars", "tokens"] = "chars"


class IngestState(Message, frozen=True, kw_only=True):
    """Outcome of one upload (KV ``dataset_uploads``, and an event)."""

    upload_id: str
    dataset: str
    filename: str
    status: Literal["pending", "done", "failed"]
    chunks: int = 0
    error: str | None = None
    updated_at: str = ""
