"""Cohere embeddings through the current v2 API (``POST {base}/v2/embed``).

Request ``{model, texts, input_type, embedding_types: ["float"], truncate?,
output_dimension?}``; answer ``{id, embeddings: {float: [[...]]}, texts, meta,
response_type}``. ``input_type`` is required by v3+ models: ``search_document``
for documents, ``search_query`` for queries. At most 96 texts per request.
``output_dimension`` (from the profile's ``dimensions``) exists for ``embed-v4.0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from neuralbridge.embedders.http import HttpEmbedder
from neuralbridge.embedders.protocol import EmbedKind

__all__ = ["CohereEmbedder"]

_INPUT_TYPES: dict[EmbedKind, str] = {"document": "search_document", "query": "search_query"}


class _Floats(msgspec.Struct):
    floats: list[list[float]] = msgspec.field(name="float")


class _EmbedByType(msgspec.Struct):
    embeddings: _Floats


_DECODER = msgspec.json.Decoder(_EmbedByType)


class CohereEmbedder(HttpEmbedder):
    """``embed-v4.0``, ``embed-english-v3.0``, ``embed-multilingual-v3.0`` and their light forms."""

    default_base_url = "https://api.cohere.com"
    default_credential = "COHERE_API_KEY"
    credential_required = True
    path = "/v2/embed"
    input_limit = 96
    default_max_batch = 96
    accepted_options = frozenset({"truncate"})

    def request_body(self, batch: Sequence[str], kind: EmbedKind) -> dict[str, Any]:
        """Build ``{model, texts, input_type, embedding_types, truncate?, output_dimension?}``."""
        body: dict[str, Any] = {
            "model": self.model,
            "texts": list(batch),
            "input_type": _INPUT_TYPES[kind],
            "embedding_types": ["float"],
        }
        if "truncate" in self.profile.options:
            body["truncate"] = self.profile.options["truncate"]
        if self.profile.dimensions is not None:
            body["output_dimension"] = self.profile.dimensions
        return body

    def decode_vectors(self, raw: bytes) -> list[list[float]]:
        """Read ``embeddings.float``."""
        return _DECODER.decode(raw).embeddings.floats
