"""Ollama embeddings (``POST {base}/api/embed``, default ``http://localhost:11434``).

Request ``{model, input: [...], truncate?, keep_alive?, dimensions?}``; answer
``{model, embeddings: [[...]], total_duration, load_duration, prompt_eval_count}``.
The endpoint takes a list; requests carry ``options["max_batch"]`` inputs (64 by
default) so one call never holds the model for long. No document/query field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from neuralbridge.embedders.http import HttpEmbedder
from neuralbridge.embedders.protocol import EmbedKind

__all__ = ["OllamaEmbedder"]

_PASSED_OPTIONS = ("truncate", "keep_alive")


class _EmbedResponse(msgspec.Struct):
    embeddings: list[list[float]]


_DECODER = msgspec.json.Decoder(_EmbedResponse)


class OllamaEmbedder(HttpEmbedder):
    """Any embedding model pulled into an Ollama server (``nomic-embed-text``, ``bge-m3``...)."""

    default_base_url = "http://localhost:11434"
    path = "/api/embed"
    input_limit = None
    default_max_batch = 64
    accepted_options = frozenset(_PASSED_OPTIONS)

    def request_body(self, batch: Sequence[str], kind: EmbedKind) -> dict[str, Any]:
        """Build ``{model, input, truncate?, keep_alive?, dimensions?}``."""
        body: dict[str, Any] = {"model": self.model, "input": list(batch)}
        for name in _PASSED_OPTIONS:
            if name in self.profile.options:
                body[name] = self.profile.options[name]
        if self.profile.dimensions is not None:
            body["dimensions"] = self.profile.dimensions
        return body

    def decode_vectors(self, raw: bytes) -> list[list[float]]:
        """Read ``embeddings``."""
        return _DECODER.decode(raw).embeddings
