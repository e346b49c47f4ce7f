"""Voyage AI embeddings (``POST {base}/embeddings``).

Request ``{input, model, input_type, output_dimension?, truncation?}``; answer
``{object: "list", data: [{object, embedding, index}], model, usage: {total_tokens}}``.
``input_type`` is ``document`` or ``query``. One request carries at most 1,000
inputs and a per-model token total: 1M for the ``-lite`` models, 320K for
``voyage-4``, ``voyage-3.5``, ``voyage-3`` and ``voyage-2``, 120K for the rest
(``voyage-4-large``, ``voyage-3-large``, ``voyage-code-3``, ``voyage-finance-2``,
``voyage-law-2``, ...; also the assumption for models not listed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neuralbridge.embedders.http import HttpEmbedder
from neuralbridge.embedders.openai import decode_embedding_list
from neuralbridge.embedders.protocol import EmbedKind

__all__ = ["VoyageEmbedder"]

_TOKEN_LIMITS = {
    "voyage-4-lite": 1_000_000,
    "voyage-3.5-lite": 1_000_000,
    "voyage-3-lite": 1_000_000,
    "voyage-4": 320_000,
    "voyage-3.5": 320_000,
    "voyage-3": 320_000,
    "voyage-2": 320_000,
}
_DEFAULT_TOKEN_LIMIT = 120_000


class VoyageEmbedder(HttpEmbedder):
    """The ``voyage-4``, ``voyage-3.5``, ``voyage-3`` and domain (code, law, finance) models."""

    default_base_url = "https://api.voyageai.com/v1"
    default_credential = "VOYAGE_API_KEY"
    credential_required = True
    path = "/embeddings"
    input_limit = 1000
    default_max_batch = 1000
    accepted_options = frozenset({"truncation"})

    def token_limit(self) -> int | None:
        """The model family's total-token cap per request."""
        return _TOKEN_LIMITS.get(self.model, _DEFAULT_TOKEN_LIMIT)

    def request_body(self, batch: Sequence[str], kind: EmbedKind) -> dict[str, Any]:
        """Build ``{input, model, input_type, output_dimension?, truncation?}``."""
        body: dict[str, Any] = {"input": list(batch), "model": self.model, "input_type": kind}
        if self.profile.dimensions is not None:
            body["output_dimension"] = self.profile.dimensions
        if "truncation" in self.profile.options:
            body["truncation"] = self.profile.options["truncation"]
        return body

    def decode_vectors(self, raw: bytes) -> list[list[float]]:
        """Read ``data[].embedding`` in ``index`` order."""
        return decode_embedding_list(raw)
