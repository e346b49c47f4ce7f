"""Hugging Face Text Embeddings Inference, native route (``POST {base}/embed``).

Request ``{inputs: [...], truncate?, normalize?, truncation_direction?,
prompt_name?}``; answer ``[[...], ...]``. The server refuses batches above its
``--max-client-batch-size`` (32 by default) with a 422, so requests carry 32
inputs unless ``options["max_batch"]`` says the server allows more. The model is
whatever the server loaded; ``model`` is recorded for cache identity and logs.
For TEI's OpenAI-compatible route use provider ``openai_compatible``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from neuralbridge.embedders.http import HttpEmbedder
from neuralbridge.embedders.protocol import EmbedKind

__all__ = ["TeiEmbedder"]

_PASSED_OPTIONS = ("truncate", "normalize", "truncation_direction", "prompt_name")
_DECODER = msgspec.json.Decoder(list[list[float]])


class TeiEmbedder(HttpEmbedder):
    """A text-embeddings-inference server; ``base_url`` is required."""

    path = "/embed"
    input_limit = None
    default_max_batch = 32
    accepted_options = frozenset(_PASSED_OPTIONS)

    def request_body(self, batch: Sequence[str], kind: EmbedKind) -> dict[str, Any]:
        """Build ``{inputs, ...options}``."""
        body: dict[str, Any] = {"inputs": list(batch)}
        for name in _PASSED_OPTIONS:
            if name in self.profile.options:
                body[name] = self.profile.options[name]
        return body

    def decode_vectors(self, raw: bytes) -> list[list[float]]:
        """Read the bare list of vectors."""
        return _DECODER.decode(raw)
