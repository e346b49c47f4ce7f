"""Qdrant: collections, deterministic points, uploads, stale-point removal, aliases.

Shared by the dataset-transform worker (writes) and the proxy-pipeline (search).
"""

from neuralbridge.vectors.qdrant import (
    CollectionSpec,
    DimensionMismatchError,
    MissingCollectionError,
    VectorStoreError,
    count_points,
    delete_stale_points,
    ensure_collection,
    point_id,
    switch_alias,
    upload_points,
    vector_size,
)
from neuralbridge.vectors.search import SearchHit, search_points

__all__ = [
    "CollectionSpec",
    "DimensionMismatchError",
    "MissingCollectionError",
    "SearchHit",
    "VectorStoreError",
    "count_points",
    "delete_stale_points",
    "ensure_collection",
    "point_id",
    "search_points",
    "switch_alias",
    "upload_points",
    "vector_size",
]
