"""OpenAI embeddings (``POST {base}/embeddings``) and servers that speak the same API.

Request ``{input, model, encoding_format: "float", dimensions?}``; answer
``{object: "list", data: [{object: "embedding", index, embedding}], model, usage}``.
One request carries at most 2,048 inputs and 300,000 tokens in total; tokens are
estimated conservatively (see :mod:`neuralbridge.embedders.batching`). OpenAI has
no document/query distinction. ``dimensions`` is sent when the profile sets it
(``text-embedding-3-*`` only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from neuralbridge.embedders.http import HttpEmbedder
from neuralbridge.embedders.protocol import EmbedKind

__all__ = ["OpenAICompatibleEmbedder", "OpenAIEmbedder", "decode_embedding_list"]


class _Embedding(msgspec.Struct):
    index: int
    embedding: list[float]


class _EmbeddingList(msgspec.Struct):
    data: list[_Embedding]


_LIST_DECODER = msgspec.json.Decoder(_EmbeddingList)


def decode_embedding_list(raw: bytes) -> list[list[float]]:
    """Decode an OpenAI-style ``{data: [{index, embedding}]}`` body, ordered by index.

    Raises:
        msgspec.ValidationError: fields are missing or the indices are not 0..n-1.
    """
    items = sorted(_LIST_DECODER.decode(raw).data, key=lambda item: item.index)
    if [item.index for item in items] != list(range(len(items))):
        raise msgspec.ValidationError("`data[].index` values are not 0..n-1")
    return [item.embedding for item in items]


class OpenAIEmbedder(HttpEmbedder):
    """``text-embedding-3-small``/``-large`` and ``text-embedding-ada-002`` at OpenAI."""

    default_base_url: ClassVar[str | None] = "https://api.openai.com/v1"
    default_credential: ClassVar[str | None] = "OPENAI_API_KEY"
    credential_required = True
    path = "/embeddings"
    input_limit: ClassVar[int | None] = 2048
    default_max_batch = 2048
    accepted_options = frozenset({"user"})

    def token_limit(self) -> int | None:
        """OpenAI caps the tokens of all inputs of one request at 300,000."""
        return 300_000

    def request_body(self, batch: Sequence[str], kind: EmbedKind) -> dict[str, Any]:
        """Build ``{input, model, encoding_format, dimensions?, user?}``."""
        body: dict[str, Any] = {"input": list(batch), "model": self.model}
        body["encoding_format"] = "float"
        if self.profile.dimensions is not None:
            body["dimensions"] = self.profile.dimensions
        if "user" in self.profile.options:
            body["user"] = self.profile.options["user"]
        return body

    def decode_vectors(self, raw: bytes) -> list[list[float]]:
        """Read ``data[].embedding`` in ``index`` order."""
        return decode_embedding_list(raw)


class OpenAICompatibleEmbedder(OpenAIEmbedder):
    """A self-hosted server speaking OpenAI's embeddings API (vLLM, TEI, LiteLLM, ...).

    ``base_url`` is required (including its ``/v1``); a key is sent only when
    ``credential`` names one. Limits differ by server: requests carry at most 32
    inputs (TEI's default client batch size) unless ``options["max_batch"]`` says
    otherwise, and no token cap is assumed.
    """

    default_base_url = None
    default_credential = None
    credential_required = False
    input_limit = None
    default_max_batch = 32

    def token_limit(self) -> int | None:
        """No token cap is known for an arbitrary server."""
        return None
