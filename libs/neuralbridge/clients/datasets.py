"""Datasets over the bus: what ``nb ingest``/``nb transforms``/``nb datasets`` and the gateway do.

Nothing here touches the worker's tables: files go into the ``dataset_uploads``
object store with an :class:`IngestJob` each on ``dataset.ingest.<dataset>``
(message id ``ingest:<upload_id>``), a transform is a :class:`TransformJob` on
``DATASET_TRANSFORMS`` (message id ``transform:<id>``), live state is read from
the KV buckets the worker keeps, and reads (list, export, embed, profiles) are
``dataset.query.*`` requests the worker answers with the types of
:mod:`neuralbridge.messages.dataset_queries`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import msgspec
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.object_store import ObjectStore

from neuralbridge.clients._requests import StateUnavailableError, ask
from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import Message, decode, encode
from neuralbridge.core.subjects import (
    DATASET_QUERY_SUBJECT,
    DATASET_TRANSFORMS_STREAM,
    TRANSFORMS_KV,
    UPLOADS_KV,
    UPLOADS_OBJECT_STORE,
    ingest_subject,
)
from neuralbridge.embedders import EmbedderProfile, KeyedEmbedderProfile
from neuralbridge.messages.dataset_queries import (
    DatasetExportQuery,
    DatasetExportReply,
    DatasetList,
    DatasetListQuery,
    DatasetSummary,
    EmbedReply,
    EmbedRequest,
    ProfilesQuery,
    ProfilesReply,
)
from neuralbridge.messages.datasets import IngestJob, IngestState, TransformJob, TransformState

__all__ = [
    "SUPPORTED",
    "IngestFile",
    "embed_texts",
    "export_dataset",
    "ingest_state",
    "kv_state",
    "list_datasets",
    "list_transforms",
    "now",
    "profile_names",
    "publish_ingest",
    "publish_transform",
    "record_pending",
    "transform_state",
    "uploads_store",
]

#: File types the worker reads.
SUPPORTED = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"})
_WORKER = "dataset-transform worker"

S = TypeVar("S", bound=Message)


class IngestFile(msgspec.Struct, frozen=True, kw_only=True):
    """One file to ingest and how to chunk it (``None``: the worker's defaults)."""

    filename: str
    content: bytes
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    chunk_size: int | None = None
    chunk_overlap: int | None = None
    chunk_unit: Literal["chars", "tokens"] = "chars"


async def uploads_store(bus: Bus) -> ObjectStore:
    """The ``dataset_uploads`` object store.

    Raises:
        StateUnavailableError: the worker has not started yet (no store).
    """
    try:
        return await bus.js.object_store(UPLOADS_OBJECT_STORE)
    except BucketNotFoundError:
        raise StateUnavailableError(
            "the dataset-transform worker has not started yet (no uploads store)"
        ) from None


async def publish_ingest(bus: Bus, store: ObjectStore, dataset: str, file: IngestFile) -> str:
    """Store the file's bytes and publish its IngestJob; return the upload id."""
    upload_id = str(uuid.uuid4())
    object_name = f"{upload_id}/{file.filename}"
    await store.put(object_name, file.content)
    job = IngestJob(
        upload_id=upload_id, dataset=dataset, object_name=object_name, filename=file.filename,
        custom_metadata=dict(file.metadata), chunk_size=file.chunk_size,
        chunk_overlap=file.chunk_overlap, chunk_unit=file.chunk_unit,
    )  # fmt: skip
    await bus.publish(ingest_subject(dataset), job, msg_id=f"ingest:{upload_id}")
    return upload_id


async def publish_transform(
    bus: Bus, *, dataset: str, collection: str, embedder: str | EmbedderProfile,
    source_file: str | None = None, chunk_index: int | None = None,
    switch_alias: str | None = None,
) -> str:  # fmt: skip
    """Publish a TransformJob; return its id.

    ``embedder`` is a profile name the worker resolves from its configuration,
    or (publishers on NATS are trusted) a full profile naming its key variable.
    """
    transform_id = str(uuid.uuid4())
    operation: Literal["dataset", "document", "chunk"] = "dataset"
    if chunk_index is not None:
        operation = "chunk"
    elif source_file:
        operation = "document"
    if isinstance(embedder, EmbedderProfile) and not isinstance(embedder, KeyedEmbedderProfile):
        embedder = msgspec.convert(msgspec.to_builtins(embedder), KeyedEmbedderProfile)
    job = TransformJob(
        transform_id=transform_id, dataset=dataset, embedder=embedder, collection=collection,
        operation=operation, source_file=source_file, chunk_index=chunk_index,
        switch_alias=switch_alias,
    )  # fmt: skip
    await bus.publish(DATASET_TRANSFORMS_STREAM, job, msg_id=f"transform:{transform_id}")
    return transform_id


def now() -> str:
    """The time as the services write it in states."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


async def record_pending(bus: Bus, bucket: str, key: str, state: Message) -> None:
    """Make an accepted job's state readable at once (``pending``) until the worker writes it.

    ``create`` only: when the worker was quicker, its state stays. Without the
    bucket (the worker never started) the job waits in its stream, unreported.
    """
    try:
        kv = await bus.js.key_value(bucket)
        await kv.create(key, encode(state))
    except (BucketNotFoundError, KeyWrongLastSequenceError):
        return


async def kv_state(kv: Any, key: str, kind: type[S]) -> S | None:
    """The state under ``key`` decoded as ``kind``; ``None`` when there is none."""
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None
    return decode(entry.value, kind) if entry.value else None


async def _bucket_state(bus: Bus, bucket: str, key: str, kind: type[S]) -> S | None:
    try:
        kv = await bus.js.key_value(bucket)
    except BucketNotFoundError:
        return None
    return await kv_state(kv, key, kind)


async def ingest_state(bus: Bus, upload_id: str) -> IngestState | None:
    """An upload's state from KV ``dataset_uploads``; ``None`` when unknown."""
    return await _bucket_state(bus, UPLOADS_KV, upload_id, IngestState)


async def transform_state(bus: Bus, transform_id: str) -> TransformState | None:
    """A transform's state from KV ``dataset_transforms``; ``None`` when unknown."""
    return await _bucket_state(bus, TRANSFORMS_KV, transform_id, TransformState)


async def list_transforms(bus: Bus) -> list[TransformState]:
    """Every transform the KV bucket knows, newest first."""
    try:
        kv = await bus.js.key_value(TRANSFORMS_KV)
    except BucketNotFoundError:
        return []
    try:
        keys = await kv.keys()
    except Exception:  # noqa: BLE001 - nats.py raises when the bucket is empty
        keys = []
    states = [s for k in keys if (s := await kv_state(kv, k, TransformState)) is not None]
    return sorted(states, key=lambda s: s.updated_at, reverse=True)


async def list_datasets(bus: Bus, *, timeout: float = 10.0) -> list[DatasetSummary]:
    """``dataset.query.list``: every dataset with its item and chunk counts."""
    subject = f"{DATASET_QUERY_SUBJECT}.list"
    reply = await ask(bus, subject, DatasetListQuery(), DatasetList, timeout=timeout,
                      service=_WORKER)  # fmt: skip
    return reply.datasets


async def export_dataset(bus: Bus, dataset: str, *, timeout: float = 120.0) -> tuple[bytes, int]:
    """``dataset.query.export``: the dataset's chunks as CSV bytes, and their count.

    The worker writes the CSV into the uploads object store; it is read, then deleted.
    """
    subject = f"{DATASET_QUERY_SUBJECT}.export"
    reply = await ask(bus, subject, DatasetExportQuery(dataset=dataset), DatasetExportReply,
                      timeout=timeout, service=_WORKER)  # fmt: skip
    store = await uploads_store(bus)
    blob = await store.get(reply.object)
    await store.delete(reply.object)
    return blob.data or b"", reply.rows


async def profile_names(bus: Bus, *, timeout: float) -> list[str]:
    """``dataset.query.profiles``: the worker's configured embedder profile names."""
    subject = f"{DATASET_QUERY_SUBJECT}.profiles"
    reply = await ask(bus, subject, ProfilesQuery(), ProfilesReply, timeout=timeout,
                      service=_WORKER)  # fmt: skip
    return reply.profiles


async def embed_texts(bus: Bus, request: EmbedRequest, *, timeout: float) -> EmbedReply:
    """``dataset.query.embed``: one vector per text, in order."""
    subject = f"{DATASET_QUERY_SUBJECT}.embed"
    return await ask(bus, subject, request, EmbedReply, timeout=timeout, service=_WORKER)
