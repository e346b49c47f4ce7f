"""Dataset ingestion and transform messages (DATASET_INGEST, DATASET_TRANSFORMS, events).

Other services publish :class:`TransformJob` to the subject ``DATASET_TRANSFORMS``
and :class:`IngestJob` to ``dataset.ingest.<dataset>``. A transform names its
embedder by profile NAME (the worker resolves it from its own configuration).
Trusted publishers (NATS auth decides who may publish) may instead send a full
profile, including the job format with an inline ``api_key``
(:class:`~neuralbridge.embedders.KeyedEmbedderProfile`): the worker uses the
key, never logs it, and its dead-letter copy carries it masked
(:func:`redact_transform_job`). Our own services send names only.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec

from neuralbridge.core.schemas import Message
from neuralbridge.embedders import PROFILE_NAME_PATTERN, KeyedEmbedderProfile

__all__ = [
    "COLLECTION_PATTERN",
    "ID_PATTERN",
    "REDACTED",
    "IngestJob",
    "IngestState",
    "ProfileName",
    "TransformJob",
    "TransformState",
    "redact_transform_job",
]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
#: Upload and transform ids (UUIDs as the services write them).
ID_PATTERN = r"^[0-9a-f-]{36}$"
#: Qdrant collection and alias names.
COLLECTION_PATTERN = r"^[A-Za-z0-9_.-]{1,200}$"
#: An embedder profile's name, resolved by the worker.
ProfileName = Annotated[str, msgspec.Meta(pattern=PROFILE_NAME_PATTERN)]
#: What replaces an inline API key in a dead-letter copy.
REDACTED = "********"
_API_KEY = re.compile(rb'("api_key"\s*:\s*)"(?:[^"\\]|\\.)*"')
MetadataValue = str | int | float | bool | None


class TransformJob(Message, frozen=True, kw_only=True):
    """Embed a dataset's chunks into a Qdrant collection.

    ``operation`` maps seed 000's EmbedJob operations: ``dataset`` (everything;
    with ``switch_alias`` it is the "reprocess for a new model" case: fill a new
    collection, then point the alias at it only when complete), ``document``
    (one item, by ``source_file``) and ``chunk`` (one chunk of that item).
    """

    transform_id: Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
    dataset: Name
    embedder: ProfileName | KeyedEmbedderProfile
    collection: Annotated[str, msgspec.Meta(pattern=COLLECTION_PATTERN)]
    operation: Literal["dataset", "document", "chunk"] = "dataset"
    source_file: str | None = None
    chunk_index: Annotated[int, msgspec.Meta(ge=0)] | None = None
    switch_alias: Annotated[str, msgspec.Meta(pattern=COLLECTION_PATTERN)] | None = None


def redact_transform_job(data: bytes) -> tuple[bytes, str | None]:
    """A transform job's body with an inline ``embedder.api_key`` masked.

    Used for dead-letter copies: the body stays the original unless it holds a
    key, and then only that value changes (to :data:`REDACTED`).

    Returns:
        ``(body, what)``: ``what`` names the masked field
        (``"embedder.api_key"``), or is ``None`` when nothing was masked.
    """
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError:
        # Not JSON: mask anything that looks like the key rather than keep it.
        masked, count = _API_KEY.subn(rb'\1"' + REDACTED.encode() + b'"', data)
        return (masked, "embedder.api_key") if count else (data, None)
    embedder = raw.get("embedder") if isinstance(raw, dict) else None
    if not isinstance(embedder, dict) or embedder.get("api_key") in (None, "", REDACTED):
        return data, None
    embedder["api_key"] = REDACTED
    return msgspec.json.encode(raw), "embedder.api_key"


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

    upload_id: Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
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
