"""Reads other processes ask of the worker over NATS request/reply.

Every subject is served by the shared responder (:mod:`neuralbridge.core.responder`)
in queue group ``dataset_transform``, with the types of
:mod:`neuralbridge.messages.dataset_queries`:

* ``dataset.query.list`` → every dataset with item and chunk counts;
* ``dataset.query.export`` → the dataset's chunks as CSV (the export columns)
  written to the uploads object store, answered with the object's name;
* ``dataset.query.embed`` → ``document`` vectors in input order, each a list of
  floats or (``base64``) the base64 of its little-endian float32 bytes, four
  times smaller on the wire (the profile defaults to the local
  ``all-MiniLM-L6-v2``). A reply past the server's payload limit is an error
  naming the limit: callers split their texts (the gateway does);
* ``dataset.query.profiles`` → the configured embedder profile names only (no
  URLs, no variables). Without an :class:`EmbedderPool` (``embedders``), only
  ``local`` profiles are served.

A refusal (unknown dataset, a profile this worker cannot serve) or a failure is
an :class:`~neuralbridge.messages.replies.ErrorReply`.
"""

from __future__ import annotations

import base64
import struct
import tempfile
import uuid
from pathlib import Path

import asyncpg
import structlog
from nats.js.object_store import ObjectStore

from neuralbridge.core.bus import Bus, BusSubscription
from neuralbridge.core.responder import RequestRefusedError, serve
from neuralbridge.core.subjects import DATASET_QUERY_SUBJECT
from neuralbridge.dataset_transform import store
from neuralbridge.dataset_transform.embedders import EmbedderPool
from neuralbridge.documents import ChunkRow, write_chunks_csv
from neuralbridge.embedders import DEFAULT_PROFILE, Embedder, EmbedderError, EmbedderProfile
from neuralbridge.embedders.local import MODEL_NAMES, LocalEmbedder
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

__all__ = [
    "DEFAULT_EMBED_PROFILE",
    "embed_texts",
    "encode_vector",
    "serve_queries",
]

log = structlog.get_logger()


#: The profile ``dataset.query.embed`` uses when the request names none.
DEFAULT_EMBED_PROFILE = EmbedderProfile(provider="local", model="all-MiniLM-L6-v2")


def encode_vector(vector: list[float]) -> str:
    """A vector as base64 of its little-endian float32 bytes (OpenAI's ``base64``)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


async def serve_queries(
    bus: Bus, pool: asyncpg.Pool, uploads: ObjectStore, embedders: EmbedderPool | None = None
) -> list[BusSubscription]:
    """Answer list/export/embed/profiles requests (a queue group: one replica answers each)."""

    async def on_list(_: DatasetListQuery) -> DatasetList:
        async with pool.acquire() as conn:
            rows = await store.dataset_summaries(conn)
        return DatasetList(datasets=[DatasetSummary(**row) for row in rows])

    async def on_export(query: DatasetExportQuery) -> DatasetExportReply:
        return await _export(pool, uploads, query.dataset)

    async def on_embed(request: EmbedRequest) -> EmbedReply:
        return await embed_texts(request, embedders)

    async def on_profiles(_: ProfilesQuery) -> ProfilesReply:
        names = embedders.profiles.names() if embedders is not None else [DEFAULT_PROFILE]
        return ProfilesReply(profiles=list(names))

    subject, queue = DATASET_QUERY_SUBJECT, "dataset_transform"
    return [
        await serve(bus, f"{subject}.embed", EmbedRequest, on_embed, queue=queue,
                    refusals=(EmbedderError,)),
        await serve(bus, f"{subject}.list", DatasetListQuery, on_list, queue=queue),
        await serve(bus, f"{subject}.profiles", ProfilesQuery, on_profiles, queue=queue),
        await serve(bus, f"{subject}.export", DatasetExportQuery, on_export, queue=queue),
    ]  # fmt: skip


async def embed_texts(request: EmbedRequest, embedders: EmbedderPool | None) -> EmbedReply:
    """The vectors of one ``dataset.query.embed`` request, in input order.

    Raises:
        EmbedderError: the profile cannot be served here, or its embedder failed.
    """
    try:
        vectors = await _embedder(request.profile, embedders).embed(request.texts, kind="document")
    except EmbedderError as exc:
        log.warning("embed_query_failed", error_class=type(exc).__name__)
        raise
    if request.encoding == "base64":
        return EmbedReply(vectors=[encode_vector(v) for v in vectors])
    floats: list[list[float] | str] = list(vectors)
    return EmbedReply(vectors=floats)


def _embedder(profile: str | EmbedderProfile, embedders: EmbedderPool | None) -> Embedder:
    if embedders is not None:
        return embedders.get(profile)
    if profile == DEFAULT_PROFILE:
        profile = DEFAULT_EMBED_PROFILE
    if (
        not isinstance(profile, EmbedderProfile)
        or profile.provider != "local"
        or profile.model not in MODEL_NAMES
        or profile.dimensions
    ):
        raise EmbedderError(
            f"this worker serves only the local {DEFAULT_EMBED_PROFILE.model} for embed requests"
        )
    return LocalEmbedder(profile)


async def _export(pool: asyncpg.Pool, uploads: ObjectStore, name: str) -> DatasetExportReply:
    async with pool.acquire() as conn:
        dataset = await store.dataset_id(conn, name)
    if dataset is None:
        raise RequestRefusedError(f"dataset {name!r} does not exist", code="not_found")
    rows: list[ChunkRow] = []
    async for batch in store.chunk_batches(pool, store.Scope(dataset), 1000):
        rows.extend(_row(c) for c in batch)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        count = write_chunks_csv(rows, path)
        object_name = f"exports/{name}-{uuid.uuid4().hex[:8]}.csv"
        with path.open("rb") as handle:
            await uploads.put(object_name, handle)
    log.info("dataset_exported", dataset=name, rows=count)
    return DatasetExportReply(object=object_name, rows=count)


def _row(chunk: store.ChunkRecord) -> ChunkRow:
    return ChunkRow(
        document_id=chunk.item_id,
        document_type=chunk.document_type,
        filename=chunk.source_file,
        chunk_index=chunk.chunk_index,
        text=chunk.text,
        title=chunk.title,
        author=chunk.author,
        char_start=chunk.char_start,
        char_end=chunk.char_end,
    )
