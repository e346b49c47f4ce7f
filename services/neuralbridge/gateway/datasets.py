"""Datasets over the bus, for HTTP: uploads, transforms, the dataset list, embeddings.

The gateway holds no dataset logic: it does what ``nb ingest`` / ``nb transforms
create`` do, through the library they share (:mod:`neuralbridge.clients.datasets`):
a file's bytes go into the
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
from pathlib import PurePath
from typing import Annotated, Any

import msgspec

from neuralbridge.clients import (
    ClientError,
    RemoteError,
    ServiceUnavailableError,
    StateUnavailableError,
)
from neuralbridge.clients import datasets as client
from neuralbridge.clients.datasets import SUPPORTED, IngestFile, now, record_pending
from neuralbridge.core.bus import Bus
from neuralbridge.core.subjects import TRANSFORMS_KV, UPLOADS_KV
from neuralbridge.embedders import DEFAULT_PROFILE
from neuralbridge.gateway.embeddings import (
    EMBEDDING_MODELS,
    Embedding,
    EmbeddingList,
    EmbeddingsRequest,
    EmbeddingUsage,
    embed,
    upstream_error,
)
from neuralbridge.gateway.errors import (
    InvalidRequestError,
    RequestRejectedError,
    UnknownRequestError,
    UpstreamUnavailableError,
)
from neuralbridge.messages.dataset_queries import DATASET_NAME_PATTERN, DatasetSummary
from neuralbridge.messages.datasets import (
    COLLECTION_PATTERN,
    ID_PATTERN,
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
_DatasetName = Annotated[str, msgspec.Meta(pattern=DATASET_NAME_PATTERN)]
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
        store = await client.uploads_store(bus)
    except StateUnavailableError as exc:
        raise UpstreamUnavailableError(str(exc)) from None
    accepted: list[Upload] = []
    for name, (_, content) in zip(names, files, strict=True):
        file = IngestFile(filename=name, content=content, metadata=dict(metadata))
        upload_id = await client.publish_ingest(bus, store, dataset, file)
        pending = IngestState(
            upload_id=upload_id, dataset=dataset, filename=name, status="pending",
            updated_at=now(),
        )  # fmt: skip
        await record_pending(bus, UPLOADS_KV, upload_id, pending)
        accepted.append(Upload(upload_id=upload_id, filename=name))
    return accepted


async def ingest_state(bus: Bus, upload_id: str) -> IngestState:
    """An upload's state from KV ``dataset_uploads`` (400/404 naming ``upload_id``)."""
    state = await client.ingest_state(bus, check_id(upload_id, "upload_id"))
    if state is None:
        raise _unknown(upload_id, "upload_id")
    return state


async def transform_state(bus: Bus, transform_id: str) -> TransformState:
    """A transform's state from KV ``dataset_transforms`` (400/404 naming ``transform_id``)."""
    state = await client.transform_state(bus, check_id(transform_id, "transform_id"))
    if state is None:
        raise _unknown(transform_id, "transform_id")
    return state


def _unknown(key: str, what: str) -> UnknownRequestError:
    return UnknownRequestError(f"no {what} {key} (unknown, or not started yet)", param=what)


async def _profile_names(bus: Bus) -> list[str] | None:
    """The worker's configured profile names; ``None`` when no worker answers in time."""
    try:
        return await client.profile_names(bus, timeout=_PROFILES_TIMEOUT)
    except ClientError:
        return None


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
    transform_id = await client.publish_transform(
        bus, dataset=data.dataset, collection=data.collection,
        embedder=data.embedder, source_file=data.source_file,
        chunk_index=data.chunk_index, switch_alias=data.switch_alias,
    )  # fmt: skip
    pending = TransformState(
        transform_id=transform_id, dataset=data.dataset, collection=data.collection,
        status="pending", updated_at=now(),
    )  # fmt: skip
    await record_pending(bus, TRANSFORMS_KV, transform_id, pending)
    return TransformAccepted(transform_id=transform_id)


async def list_datasets(bus: Bus) -> list[DatasetSummary]:
    """The worker's ``dataset.query.list`` reply: ``[{name, items, chunks}]``."""
    try:
        return await client.list_datasets(bus, timeout=10)
    except (ServiceUnavailableError, RemoteError) as exc:
        raise upstream_error(exc) from None
