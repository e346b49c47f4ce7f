"""Reads other processes ask of the worker over NATS request/reply.

``dataset.query.list`` → every dataset with item and chunk counts;
``dataset.query.export`` ``{"dataset": name}`` → the dataset's chunks as CSV
(seed 002's columns) written to the uploads object store, answered with the
object's name; ``dataset.query.embed`` ``{"texts": [...], "profile"?: name or
EmbedderProfile, "encoding"?: "float" | "base64"}`` → ``{"vectors": [...]}``,
``document`` vectors in input order, each a list of floats or (``base64``) the
base64 of its little-endian float32 bytes, four times smaller on the wire (the
profile defaults to the local ``all-MiniLM-L6-v2``). A reply that would not fit
the server's payload limit is an error naming the limit: callers split their
texts (the gateway does). ``dataset.query.profiles`` → ``{"profiles": [names]}``,
the configured embedder profile names only (no URLs, no variables). Without an
:class:`EmbedderPool` (``embedders``), only ``local`` profiles are served.
Replies are JSON; an error is ``{"error": "...", "code"?: "..."}``.
"""

from __future__ import annotations

import base64
import json
import struct
import tempfile
import uuid
from pathlib import Path
from typing import Literal

import asyncpg
import msgspec
import structlog
from nats.aio.msg import Msg
from nats.js.object_store import ObjectStore

from neuralbridge.core.bus import Bus, BusSubscription
from neuralbridge.core.subjects import DATASET_QUERY_SUBJECT
from neuralbridge.dataset_transform import store
from neuralbridge.dataset_transform.embedders import EmbedderPool
from neuralbridge.documents import ChunkRow, write_chunks_csv
from neuralbridge.embedders import (
    DEFAULT_PROFILE,
    Embedder,
    EmbedderError,
    EmbedderProfile,
    KeyedEmbedderProfile,
)
from neuralbridge.embedders.local import MODEL_NAMES, LocalEmbedder
from neuralbridge.messages.datasets import ProfileName

__all__ = [
    "DEFAULT_EMBED_PROFILE",
    "MAX_EMBED_TEXTS",
    "EmbedRequest",
    "embed_texts",
    "encode_vector",
    "serve_queries",
]

log = structlog.get_logger()


#: The profile ``dataset.query.embed`` uses when the request names none.
DEFAULT_EMBED_PROFILE = EmbedderProfile(provider="local", model="all-MiniLM-L6-v2")
#: The most texts one embed request may carry.
MAX_EMBED_TEXTS = 2048


class EmbedRequest(msgspec.Struct, frozen=True, kw_only=True):
    """``dataset.query.embed``'s request body."""

    texts: list[str]
    profile: ProfileName | KeyedEmbedderProfile = DEFAULT_PROFILE
    encoding: Literal["float", "base64"] = "float"


def encode_vector(vector: list[float]) -> str:
    """A vector as base64 of its little-endian float32 bytes (OpenAI's ``base64``)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


async def serve_queries(
    bus: Bus, pool: asyncpg.Pool, uploads: ObjectStore, embedders: EmbedderPool | None = None
) -> list[BusSubscription]:
    """Answer list/export/embed requests (a queue group: one replica answers each)."""

    async def on_list(msg: Msg) -> None:
        async with pool.acquire() as conn:
            rows = await store.dataset_summaries(conn)
        await msg.respond(json.dumps(rows).encode())

    async def on_export(msg: Msg) -> None:
        try:
            name = str(json.loads(msg.data)["dataset"])
        except (ValueError, KeyError, TypeError):
            await msg.respond(b'{"error": "request body must be {\\"dataset\\": name}"}')
            return
        await msg.respond(json.dumps(await _export(pool, uploads, name)).encode())

    async def on_embed(msg: Msg) -> None:
        reply = json.dumps(await embed_texts(msg.data, embedders)).encode()
        limit = bus.nc.max_payload
        if len(reply) > limit:
            reply = json.dumps({
                "error": f"the reply ({len(reply)} bytes) exceeds the NATS payload limit "
                f"({limit} bytes); send fewer texts per request or ask for base64",
                "code": "reply_too_large",
            }).encode()  # fmt: skip
        await msg.respond(reply)

    async def on_profiles(msg: Msg) -> None:
        names = embedders.profiles.names() if embedders is not None else [DEFAULT_PROFILE]
        await msg.respond(json.dumps({"profiles": names}).encode())

    return [
        await bus.subscribe(
            f"{DATASET_QUERY_SUBJECT}.embed", queue="dataset_transform", cb=on_embed
        ),
        await bus.subscribe(f"{DATASET_QUERY_SUBJECT}.list", queue="dataset_transform", cb=on_list),
        await bus.subscribe(
            f"{DATASET_QUERY_SUBJECT}.profiles", queue="dataset_transform", cb=on_profiles
        ),
        await bus.subscribe(
            f"{DATASET_QUERY_SUBJECT}.export", queue="dataset_transform", cb=on_export
        ),
    ]


async def embed_texts(data: bytes, embedders: EmbedderPool | None) -> dict[str, object]:
    """The reply to one ``dataset.query.embed`` request (``{"vectors"}`` or ``{"error"}``)."""
    try:
        request = msgspec.json.decode(data, type=EmbedRequest)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return {"error": f"invalid embed request: {exc}", "code": "invalid_request"}
    if not request.texts or len(request.texts) > MAX_EMBED_TEXTS:
        return {
            "error": f"texts must hold 1 to {MAX_EMBED_TEXTS} strings",
            "code": "invalid_request",
        }
    try:
        embedder = _embedder(request.profile, embedders)
        vectors = await embedder.embed(request.texts, kind="document")
    except EmbedderError as exc:
        log.warning("embed_query_failed", error_class=type(exc).__name__)
        return {"error": str(exc), "code": type(exc).__name__}
    except Exception as exc:
        log.exception("embed_query_crashed", error_class=type(exc).__name__)
        return {"error": "internal error", "code": "internal_error"}
    if request.encoding == "base64":
        return {"vectors": [encode_vector(v) for v in vectors]}
    return {"vectors": vectors}


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


async def _export(pool: asyncpg.Pool, uploads: ObjectStore, name: str) -> dict[str, object]:
    async with pool.acquire() as conn:
        dataset = await store.dataset_id(conn, name)
    if dataset is None:
        return {"error": f"dataset {name!r} does not exist"}
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
    return {"object": object_name, "rows": count}


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
