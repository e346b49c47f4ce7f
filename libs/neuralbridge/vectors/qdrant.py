"""Collection management and point writes on Qdrant (server or local mode).

Point ids are deterministic — ``uuid5(dataset item, chunk index, embedder)`` —
so a re-run overwrites instead of duplicating, and a crash mid-upload leaves
nothing a re-run cannot fix. A collection is created with the vector size the
embedder really returns; an existing collection of another size is a
:class:`DimensionMismatchError` (permanent: retrying cannot fix it).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Literal

import msgspec
import structlog
from qdrant_client import AsyncQdrantClient, models

from neuralbridge.core.errors import PermanentError, RetryableError
from neuralbridge.vectors import metrics as m

__all__ = [
    "CollectionSpec",
    "DimensionMismatchError",
    "MissingCollectionError",
    "VectorStoreError",
    "count_points",
    "delete_stale_points",
    "ensure_collection",
    "point_id",
    "switch_alias",
    "upload_points",
    "vector_size",
]

log = structlog.get_logger()

_NAMESPACE = uuid.UUID("6f1c1d4e-2b7a-5c1e-9f00-6e6575726162")
_DISTANCE = {
    "Cosine": models.Distance.COSINE,
    "Euclid": models.Distance.EUCLID,
    "Dot": models.Distance.DOT,
    "Manhattan": models.Distance.MANHATTAN,
}
#: Payload fields indexed before the bulk upload (filters and stale deletion use them).
_INDEXES = {
    "dataset_id": models.PayloadSchemaType.KEYWORD,
    "dataset_item_id": models.PayloadSchemaType.KEYWORD,
    "chunk_index": models.PayloadSchemaType.INTEGER,
    "source_file": models.PayloadSchemaType.KEYWORD,
}


class VectorStoreError(RetryableError):
    """Qdrant failed in a way a later attempt may not (connection, 5xx)."""


class DimensionMismatchError(PermanentError):
    """The collection exists with another vector size."""

    error_class = "DimensionMismatch"


class MissingCollectionError(PermanentError):
    """The collection does not exist and creating it is disabled."""

    error_class = "MissingCollection"


class CollectionSpec(msgspec.Struct, frozen=True, kw_only=True):
    """How a collection is created (``QDRANT_*`` settings)."""

    name: str
    size: int
    distance: Literal["Cosine", "Euclid", "Dot", "Manhattan"] = "Cosine"
    hnsw_m: int = 16
    hnsw_ef_construct: int = 100
    quantization: bool = False


def point_id(item_id: str, chunk_index: int, embedder_identity: str) -> str:
    """The deterministic id of one chunk's vector for one embedder."""
    return str(uuid.uuid5(_NAMESPACE, f"{item_id}:{chunk_index}:{embedder_identity}"))


async def ensure_collection(
    client: AsyncQdrantClient, spec: CollectionSpec, *, create: bool
) -> bool:
    """Make sure ``spec.name`` exists with ``spec.size``; return whether it was created.

    Raises:
        DimensionMismatchError: it exists with another vector size.
        MissingCollectionError: it does not exist and ``create`` is false.
    """
    if await client.collection_exists(spec.name):
        size = await _vector_size(client, spec.name)
        if size != spec.size:
            raise DimensionMismatchError(
                f"collection {spec.name!r} holds vectors of size {size} but the embedder "
                f"produces {spec.size}; use another collection or the matching model"
            )
        return False
    if not create:
        raise MissingCollectionError(
            f"collection {spec.name!r} does not exist and QDRANT_CREATE_COLLECTION is false"
        )
    quantization = (
        models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, always_ram=True)
        )
        if spec.quantization
        else None
    )
    await client.create_collection(
        spec.name,
        vectors_config=models.VectorParams(size=spec.size, distance=_DISTANCE[spec.distance]),
        hnsw_config=models.HnswConfigDiff(m=spec.hnsw_m, ef_construct=spec.hnsw_ef_construct),
        quantization_config=quantization,
    )
    for field, schema in _INDEXES.items():
        await client.create_payload_index(spec.name, field_name=field, field_schema=schema)
    log.info("qdrant_collection_created", collection=spec.name, size=spec.size)
    return True


async def vector_size(client: AsyncQdrantClient, name: str) -> int | None:
    """The vector size of collection ``name``, or ``None`` when it does not exist."""
    if not await client.collection_exists(name):
        return None
    return await _vector_size(client, name)


async def _vector_size(client: AsyncQdrantClient, name: str) -> int:
    info = await client.get_collection(name)
    vectors = info.config.params.vectors
    if isinstance(vectors, models.VectorParams):
        return int(vectors.size)
    if isinstance(vectors, dict) and vectors:
        return int(next(iter(vectors.values())).size)
    raise DimensionMismatchError(f"collection {name!r} uses named vectors; expected one vector")


async def upload_points(
    client: AsyncQdrantClient,
    collection: str,
    points: Sequence[models.PointStruct],
    *,
    batch_size: int,
) -> None:
    """Upsert ``points`` in requests of ``batch_size`` and wait for each to apply."""
    for first in range(0, len(points), batch_size):
        part = list(points[first : first + batch_size])
        started = time.perf_counter()
        try:
            await client.upsert(collection, points=part, wait=True)
        except Exception as exc:
            m.QDRANT_UPLOADS.labels("failure").inc()
            m.QDRANT_ERRORS.labels(type(exc).__name__).inc()
            raise VectorStoreError(f"Qdrant upsert into {collection!r} failed: {exc}") from exc
        m.QDRANT_UPLOADS.labels("success").inc()
        m.QDRANT_UPLOAD_DURATION.observe(time.perf_counter() - started)
        m.QDRANT_VECTORS_PER_BATCH.observe(len(part))


async def delete_stale_points(
    client: AsyncQdrantClient,
    collection: str,
    chunk_counts: Mapping[str, int],
    *,
    per_request: int = 64,
) -> None:
    """Delete each item's points with ``chunk_index >= chunk_count`` (re-chunked smaller).

    One filtered delete per ``per_request`` items (a ``should`` of per-item filters).
    """
    items = list(chunk_counts.items())
    for first in range(0, len(items), per_request):
        per_item: list[models.Condition] = [
            models.Filter(
                must=[
                    models.FieldCondition(
                        key="dataset_item_id", match=models.MatchValue(value=item)
                    ),
                    models.FieldCondition(key="chunk_index", range=models.Range(gte=count)),
                ]
            )
            for item, count in items[first : first + per_request]
        ]
        selector = models.FilterSelector(filter=models.Filter(should=per_item))
        await client.delete(collection, points_selector=selector, wait=True)


async def count_points(client: AsyncQdrantClient, collection: str, dataset_id: str) -> int:
    """How many points of ``dataset_id`` the collection holds."""
    result = await client.count(
        collection,
        count_filter=models.Filter(
            must=[
                models.FieldCondition(key="dataset_id", match=models.MatchValue(value=dataset_id))
            ]
        ),
        exact=True,
    )
    return int(result.count)


async def switch_alias(client: AsyncQdrantClient, alias: str, collection: str) -> None:
    """Point ``alias`` at ``collection`` in one step (reprocessing switch-over)."""
    existing = await client.get_aliases()
    operations: list[models.AliasOperations] = [
        models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias))
        for a in existing.aliases
        if a.alias_name == alias
    ]
    operations.append(
        models.CreateAliasOperation(
            create_alias=models.CreateAlias(collection_name=collection, alias_name=alias)
        )
    )
    await client.update_collection_aliases(change_aliases_operations=operations)
    log.info("qdrant_alias_switched", alias=alias, collection=collection)
