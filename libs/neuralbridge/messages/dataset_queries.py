"""Requests the dataset-transform worker answers on ``dataset.query.<name>``.

* ``list``: :class:`DatasetListQuery` → :class:`DatasetList`, every dataset with
  its item and chunk counts.
* ``export``: :class:`DatasetExportQuery` → :class:`DatasetExportReply`, the
  dataset's chunks as CSV written to the uploads object store.
* ``embed``: :class:`EmbedRequest` → :class:`EmbedReply`, ``document`` vectors in
  input order (floats, or base64 of little-endian float32).
* ``profiles``: :class:`ProfilesQuery` → :class:`ProfilesReply`, the configured
  embedder profile names only (no URLs, no variables).

A refusal is an :class:`~neuralbridge.messages.replies.ErrorReply`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from neuralbridge.core.schemas import Message
from neuralbridge.embedders import DEFAULT_PROFILE, KeyedEmbedderProfile
from neuralbridge.messages.datasets import ProfileName

__all__ = [
    "DATASET_NAME_PATTERN",
    "MAX_EMBED_TEXTS",
    "DatasetExportQuery",
    "DatasetExportReply",
    "DatasetList",
    "DatasetListQuery",
    "DatasetSummary",
    "EmbedReply",
    "EmbedRequest",
    "ProfilesQuery",
    "ProfilesReply",
]

#: A dataset name: it is a subject token, so letters, digits, ``_`` and ``-``.
DATASET_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,200}$"
#: The most texts one embed request may carry.
MAX_EMBED_TEXTS = 2048


class DatasetListQuery(Message, frozen=True, kw_only=True):
    """``dataset.query.list``: no parameters."""


class DatasetSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One dataset with its counts."""

    name: str
    items: int
    chunks: int


class DatasetList(Message, frozen=True, kw_only=True):
    """Every dataset, by name."""

    datasets: list[DatasetSummary]


class DatasetExportQuery(Message, frozen=True, kw_only=True):
    """``dataset.query.export``: which dataset to write as CSV."""

    dataset: Annotated[str, msgspec.Meta(pattern=DATASET_NAME_PATTERN)]


class DatasetExportReply(Message, frozen=True, kw_only=True):
    """Where the CSV is (the asker reads, then deletes, the object) and its row count."""

    object: str
    rows: int


class EmbedRequest(Message, frozen=True, kw_only=True):
    """``dataset.query.embed``: texts to embed with a profile (default ``local``)."""

    texts: Annotated[list[str], msgspec.Meta(min_length=1, max_length=MAX_EMBED_TEXTS)]
    profile: ProfileName | KeyedEmbedderProfile = DEFAULT_PROFILE
    encoding: Literal["float", "base64"] = "float"


class EmbedReply(Message, frozen=True, kw_only=True):
    """One vector per text, in order: floats, or base64 strings when asked for."""

    vectors: list[list[float] | str]


class ProfilesQuery(Message, frozen=True, kw_only=True):
    """``dataset.query.profiles``: no parameters."""


class ProfilesReply(Message, frozen=True, kw_only=True):
    """The configured embedder profile names."""

    profiles: list[str]
