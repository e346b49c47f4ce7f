"""Datasets over the bus, for HTTP: uploads, transforms, the dataset list, embeddings.

The gateway holds no dataset logic: it does what ``nb ingest`` / ``nb transforms
create`` do (:mod:`neuralbridge.cli.datasets`, whose ``SUPPORTED``,
``transforms_create`` and ``_kv_state`` it reuses): a file's bytes go into the
``dataset_uploads`` object store with an :class:`IngestJob` on
``dataset.ingest.<dataset>`` (message id ``ingest:<upload_id>``), a transform is
a :class:`TransformJob`, and live state is read from the KV buckets the
dataset-transform worker keeps. Lists and embeddings are NATS requests the
worker answers (``dataset.query.list``, ``dataset.query.embed``).

Embeddings (``POST /v1/embeddings``): ``model`` must be ``neuralbridge``,
``local`` or ``all-MiniLM-L6-v2``; each selects the worker's local
``all-MiniLM-L6-v2`` profile (384 dimensions, ``document`` vectors). Other
names are 400 naming ``model``. ``usage`` counts whitespace-separated words.
"""

from __future__ import annotations

import base64
import json
import struct
import uuid
from pathlib import PurePath
from typing import Annotated, Any, Literal

import msgspec
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import BucketNotFoundError

from neuralbridge.cli.datasets import SUPPORTED, _kv_state, transforms_create
from neuralbridge.core.bus import Bus
from neuralbridge.core.subjects import (
    DATASET_QUERY_SUBJECT,
    TRANSFORMS_KV,
    UPLOADS_KV,
    UPLOADS_OBJECT_STORE,
    ingest_subject,
)
from neuralbridge.embedders import EmbedderProfile
from neuralbridge.gateway.errors import (
    InvalidRequestError,
    UnknownRequestError,
    UpstreamFailedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from neuralbridge.messages.datasets import IngestJob, IngestState, TransformState

__all__ = [
    "EMBEDDING_MODELS",
    "LOCAL_PROFILE",
    "Embedding",
    "EmbeddingList",
    "EmbeddingUsage",
    "EmbeddingsRequest",
    "TransformAccepted",
    "TransformInput",
    "Upload",
    "check_dataset",
    "check_filename",
    "embed",
    "ingest_state",
    "list_datasets",
    "parse_metadata",
    "start_transform",
    "transform_state",
    "upload",
]

#: The local default embedder (the worker's ``all-MiniLM-L6-v2``).
LOCAL_PROFILE = EmbedderProfile(provider="local", model="all-MiniLM-L6-v2")
#: ``model`` names ``POST /v1/embeddings`` accepts; each means :data:`LOCAL_PROFILE`.
EMBEDDING_MODELS = frozenset({"neuralbridge", "local", "all-MiniLM-L6-v2"})

_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
_DatasetName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,200}$")]


class Upload(msgspec.Struct, frozen=True, kw_only=True):
    """One accepted file."""

    upload_id: str
    filename: str


class TransformInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/transforms``: embed a dataset (or one document or chunk) into a collection."""

    dataset: _Name
    collection: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,200}$")]
    embedder: EmbedderProfile | None = None
    source_file: _Name | None = None
    chunk_index: Annotated[int, msgspec.Meta(ge=0)] | None = None
    switch_alias: _Name | None = None


class TransformAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """The id to poll ``GET /api/transforms/{transform_id}`` with."""

    transform_id: str


class EmbeddingsRequest(msgspec.Struct, frozen=True, kw_only=True):
    """OpenAI's embeddings request (``user`` is accepted and ignored)."""

    input: str | list[str]
    model: _Name
    dimensions: Annotated[int, msgspec.Meta(gt=0)] | None = None
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None


class Embedding(msgspec.Struct, frozen=True, kw_only=True):
    """One input's vector (a list of floats, or base64 of little-endian float32)."""

    index: int
    embedding: list[float] | str
    object: Literal["embedding"] = "embedding"


class EmbeddingUsage(msgspec.Struct, frozen=True, kw_only=True):
    """Whitespace-separated words, not tokenizer tokens."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingList(msgspec.Struct, frozen=True, kw_only=True):
    """OpenAI's embeddings response."""

    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
    object: Literal["list"] = "list"


def check_dataset(dataset: str) -> str:
    """``dataset`` if it can be a subject token, else 400 naming ``dataset``."""
    try:
        return msgspec.convert(dataset, _DatasetName)
    except msgspec.ValidationError:
        raise InvalidRequestError(
            "dataset must be 1-200 letters, digits, '_' or '-'", param="dataset"
        ) from None


def check_filename(filename: str | None) -> str:
    """The file's base name; 400 naming the file when its type is not supported."""
    name = PurePath(filename or "").name
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUPPORTED:
        kinds = ", ".join(sorted(SUPPORTED))
        raise InvalidRequestError(
            f"{name or '(unnamed file)'}: unsupported type {suffix or '(none)'}; "
            f"supported: {kinds}",
            code="unsupported_file_type", param=name or "files",
        )  # fmt: skip
    return name


def parse_metadata(raw: str | None) -> dict[str, str | int | float | bool | None]:
    """The ``metadata`` form field: a JSON object of scalars (400 naming ``metadata``)."""
    if raw is None or raw == "":
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(
        v is None or isinstance(v, str | int | float | bool) for v in value.values()
    ):
        raise InvalidRequestError(
            "metadata must be a JSON object of strings, numbers, booleans or null",
            param="metadata",
        )
    return value


async def upload(
    bus: Bus, dataset: str, files: list[tuple[str, bytes]], metadata: dict[str, Any]
) -> list[Upload]:
    """Store each ``(filename, bytes)`` and publish its IngestJob (names checked first)."""
    names = [check_filename(name) for name, _ in files]
    try:
        store = await bus.js.object_store(UPLOADS_OBJECT_STORE)
    except BucketNotFoundError:
        raise UpstreamUnavailableError(
            "the dataset-transform worker has not started yet (no uploads store)"
        ) from None
    accepted: list[Upload] = []
    for name, (_, content) in zip(names, files, strict=True):
        upload_id = str(uuid.uuid4())
        object_name = f"{upload_id}/{name}"
        await store.put(object_name, content)
        job = IngestJob(
            upload_id=upload_id, dataset=dataset, object_name=object_name, filename=name,
            custom_metadata=dict(metadata),
        )  # fmt: skip
        await bus.publish(ingest_subject(dataset), job, msg_id=f"ingest:{upload_id}")
        accepted.append(Upload(upload_id=upload_id, filename=name))
    return accepted


async def _state(bus: Bus, bucket: str, key: str, kind: type[Any], what: str) -> Any:
    try:
        kv = await bus.js.key_value(bucket)
    except BucketNotFoundError:
        kv = None
    state = None if kv is None else await _kv_state(kv, key, kind)
    if state is None:
        raise UnknownRequestError(f"no {what} {key} (unknown, or not started yet)", param=what)
    return state


async def ingest_state(bus: Bus, upload_id: str) -> IngestState:
    """An upload's state from KV ``dataset_uploads`` (404 naming ``upload_id``)."""
    state: IngestState = await _state(bus, UPLOADS_KV, upload_id, IngestState, "upload_id")
    return state


async def transform_state(bus: Bus, transform_id: str) -> TransformState:
    """A transform's state from KV ``dataset_transforms`` (404 naming ``transform_id``)."""
    state: TransformState = await _state(
        bus, TRANSFORMS_KV, transform_id, TransformState, "transform_id"
    )
    return state


async def start_transform(bus: Bus, data: TransformInput) -> TransformAccepted:
    """Publish the TransformJob (the local default embedder unless one is given)."""
    transform_id = await transforms_create(
        bus, dataset=data.dataset, collection=data.collection,
        profile=data.embedder or LOCAL_PROFILE, source_file=data.source_file,
        chunk_index=data.chunk_index, switch_alias=data.switch_alias,
    )  # fmt: skip
    return TransformAccepted(transform_id=transform_id)


async def _request(bus: Bus, subject: str, body: dict[str, Any], timeout: float) -> Any:
    try:
        reply = await bus.nc.request(subject, json.dumps(body).encode(), timeout=timeout)
    except NoRespondersError:
        raise UpstreamUnavailableError("no dataset-transform worker is answering") from None
    except NatsTimeoutError:
        raise UpstreamTimeoutError("the dataset-transform worker did not answer in time") from None
    answer = json.loads(reply.data)
    if isinstance(answer, dict) and "error" in answer:
        raise UpstreamFailedError(str(answer["error"]), code=answer.get("code"))
    return answer


async def list_datasets(bus: Bus) -> list[dict[str, Any]]:
    """The worker's ``dataset.query.list`` reply: ``[{name, items, chunks, ...}]``."""
    rows: list[dict[str, Any]] = await _request(bus, f"{DATASET_QUERY_SUBJECT}.list", {}, 10)
    return rows


async def embed(bus: Bus, data: EmbeddingsRequest, *, timeout: float) -> EmbeddingList:
    """Embed ``input`` with the worker's local model, in OpenAI's format."""
    if data.model not in EMBEDDING_MODELS:
        raise InvalidRequestError(
            f"unknown embedding model {data.model!r}; available: {sorted(EMBEDDING_MODELS)}",
            code="model_not_found", param="model",
        )  # fmt: skip
    if data.dimensions not in (None, 384):
        raise InvalidRequestError(f"{data.model} produces 384 dimensions only", param="dimensions")
    texts = [data.input] if isinstance(data.input, str) else list(data.input)
    if not texts or any(not t for t in texts):
        raise InvalidRequestError("input must be a non-empty string or list of them", param="input")
    body = {"texts": texts, "profile": msgspec.to_builtins(LOCAL_PROFILE)}
    answer = await _request(bus, f"{DATASET_QUERY_SUBJECT}.embed", body, timeout)
    vectors: list[list[float]] = answer["vectors"]
    words = sum(len(t.split()) for t in texts)
    return EmbeddingList(
        data=[
            Embedding(index=i, embedding=_encode(v, data.encoding_format))
            for i, v in enumerate(vectors)
        ],
        model=data.model,
        usage=EmbeddingUsage(prompt_tokens=words, total_tokens=words),
    )


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
