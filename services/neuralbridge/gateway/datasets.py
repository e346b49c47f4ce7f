"""Datasets over the bus, for HTTP: uploads, transforms, the dataset list, embeddings.

The gateway holds no dataset logic: it does what ``nb ingest`` / ``nb transforms
create`` do (:mod:`neuralbridge.cli.datasets`, whose ``SUPPORTED``,
``transforms_create`` and ``_kv_state`` it reuses): a file's bytes go into the
``dataset_uploads`` object store with an :class:`IngestJob` on
``dataset.ingest.<dataset>`` (message id ``ingest:<upload_id>``), a transform is
a :class:`TransformJob`, and live state is read from the KV buckets the
dataset-transform worker keeps. Lists and embeddings are NATS requests the
worker answers (``dataset.query.list``, ``dataset.query.embed``).

A transform names its embedder by profile NAME (``embedder``; default
``local``), never a URL or a credential: the worker resolves the name from the
operator's configuration. The gateway asks the worker for the configured names
(``dataset.query.profiles``) to refuse an unknown one with 400; when no worker
answers, the job is accepted and the worker refuses it (state ``failed``).
Ids in paths are checked against their format before they touch NATS.
Embeddings (``POST /v1/embeddings``) live in :mod:`neuralbridge.gateway.embeddings`.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Annotated, Any

import msgspec
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError

from neuralbridge.cli.datasets import SUPPORTED, _kv_state, transforms_create
from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import Message, encode
from neuralbridge.core.subjects import (
    DATASET_QUERY_SUBJECT,
    TRANSFORMS_KV,
    UPLOADS_KV,
    UPLOADS_OBJECT_STORE,
    ingest_subject,
)
from neuralbridge.embedders import DEFAULT_PROFILE
from neuralbridge.gateway.embeddings import (
    EMBEDDING_MODELS,
    Embedding,
    EmbeddingList,
    EmbeddingsRequest,
    EmbeddingUsage,
    embed,
)
from neuralbridge.gateway.errors import (
    InvalidRequestError,
    RequestRejectedError,
    UnknownRequestError,
    UpstreamFailedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from neuralbridge.messages.datasets import (
    COLLECTION_PATTERN,
    ID_PATTERN,
    IngestJob,
    IngestState,
    ProfileName,
    TransformState,
)

__all__ = [
    "EMBEDDING_MODELS",
    "Embedding",
    "EmbeddingList",
    "EmbeddingUsage",
    "EmbeddingsRequest",
    "TransformAccepted",
    "TransformInput",
    "Upload",
    "check_dataset",
    "check_filename",
    "check_id",
    "embed",
    "ingest_state",
    "list_datasets",
    "parse_metadata",
    "start_transform",
    "transform_state",
    "upload",
]

_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
_DatasetName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,200}$")]
_Collection = Annotated[str, msgspec.Meta(pattern=COLLECTION_PATTERN)]
_ID = re.compile(ID_PATTERN)
#: Seconds the gateway waits for the worker's profile names before accepting anyway.
_PROFILES_TIMEOUT = 2.0


class Upload(msgspec.Struct, frozen=True, kw_only=True):
    """One accepted file."""

    upload_id: str
    filename: str


class TransformInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/transforms``: embed a dataset (or one document or chunk) into a collection.

    ``embedder`` is the NAME of a profile the worker configures (default
    ``local``); endpoints and credentials are never a caller's to choose.
    """

    dataset: _DatasetName
    collection: _Collection
    embedder: ProfileName = DEFAULT_PROFILE
    source_file: _Name | None = None
    chunk_index: Annotated[int, msgspec.Meta(ge=0)] | None = None
    switch_alias: _Collection | None = None


class TransformAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """The id to poll ``GET /api/transforms/{transform_id}`` with."""

    transform_id: str


def check_dataset(dataset: str) -> str:
    """``dataset`` if it can be a subject token, else 400 naming ``dataset``."""
    try:
        return msgspec.convert(dataset, _DatasetName)
    except msgspec.ValidationError:
        raise InvalidRequestError(
            "dataset must be 1-200 letters, digits, '_' or '-'", param="dataset"
        ) from None


def check_id(value: str, param: str) -> str:
    """``value`` if it is a UUID as the services write them, else 400 naming ``param``."""
    if not _ID.fullmatch(value):
        raise InvalidRequestError(
            f"{param} must be a UUID (36 characters: lowercase hex digits and '-')", param=param
        )
    return value


def check_filename(filename: str | None) -> str:
    """The file's base name; 400 naming the file when its name or type is not supported."""
    name = PurePath(filename or "").name
    if len(name) > 200 or not name.isprintable():
        raise InvalidRequestError(
            "a file name must be at most 200 printable characters", param="files"
        )
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
        pending = IngestState(
            upload_id=upload_id, dataset=dataset, filename=name, status="pending",
            updated_at=_now(),
        )  # fmt: skip
        await _record_pending(bus, UPLOADS_KV, upload_id, pending)
        accepted.append(Upload(upload_id=upload_id, filename=name))
    return accepted


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


async def _record_pending(bus: Bus, bucket: str, key: str, state: Message) -> None:
    """Make an accepted job's state readable at once (``pending``) until the worker writes it.

    ``create`` only: when the worker was quicker, its state stays. Without the
    bucket (the worker never started) the job waits in its stream, unreported.
    """
    try:
        kv = await bus.js.key_value(bucket)
        await kv.create(key, encode(state))
    except (BucketNotFoundError, KeyWrongLastSequenceError):
        return


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
    """An upload's state from KV ``dataset_uploads`` (400/404 naming ``upload_id``)."""
    key = check_id(upload_id, "upload_id")
    state: IngestState = await _state(bus, UPLOADS_KV, key, IngestState, "upload_id")
    return state


async def transform_state(bus: Bus, transform_id: str) -> TransformState:
    """A transform's state from KV ``dataset_transforms`` (400/404 naming ``transform_id``)."""
    key = check_id(transform_id, "transform_id")
    state: TransformState = await _state(bus, TRANSFORMS_KV, key, TransformState, "transform_id")
    return state


async def _profile_names(bus: Bus) -> list[str] | None:
    """The worker's configured profile names; ``None`` when no worker answers in time."""
    subject = f"{DATASET_QUERY_SUBJECT}.profiles"
    try:
        reply = await bus.nc.request(subject, b"{}", timeout=_PROFILES_TIMEOUT)
        names = json.loads(reply.data)["profiles"]
    except (NoRespondersError, NatsTimeoutError, ValueError, KeyError, TypeError):
        return None
    return [str(n) for n in names] if isinstance(names, list) else None


async def start_transform(bus: Bus, data: TransformInput) -> TransformAccepted:
    """Publish the TransformJob naming its embedder profile (400 for what cannot run)."""
    if data.chunk_index is not None and not data.source_file:
        raise InvalidRequestError("chunk_index needs source_file", param="chunk_index")
    names = await _profile_names(bus)
    if names is not None and data.embedder not in names:
        raise RequestRejectedError(
            f"unknown embedder profile {data.embedder!r}; configured: {', '.join(names)}",
            code="unknown_embedder_profile", param="embedder",
        )  # fmt: skip
    transform_id = await transforms_create(
        bus, dataset=data.dataset, collection=data.collection,
        embedder=data.embedder, source_file=data.source_file,
        chunk_index=data.chunk_index, switch_alias=data.switch_alias,
    )  # fmt: skip
    pending = TransformState(
        transform_id=transform_id, dataset=data.dataset, collection=data.collection,
        status="pending", updated_at=_now(),
    )  # fmt: skip
    await _record_pending(bus, TRANSFORMS_KV, transform_id, pending)
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
