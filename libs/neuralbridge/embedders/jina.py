"""Jina AI embeddings (``POST {base}/embeddings``).

Request ``{model, input, embedding_type: "float", task?, dimensions?,
late_chunking?, truncate?, normalized?}``; answer like OpenAI's
``{data: [{index, embedding}], usage}``. Task adapters exist from
``jina-embeddings-v3`` on: ``retrieval.passage`` for documents,
``retrieval.query`` for queries, or ``options["task"]`` for both (for example
``code.query``). Requests carry at most 2,048 inputs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from neuralbridge.embedders.http import HttpEmbedder
from neuralbridge.embedders.openai import decode_embedding_list
from neuralbridge.embedders.protocol import EmbedKind

__all__ = ["JinaEmbedder"]

_TASKS: dict[EmbedKind, str] = {"document": "retrieval.passage", "query": "retrieval.query"}
_VERSION = re.compile(r"jina-embeddings-v(\d+)")
_PASSED_OPTIONS = ("late_chunking", "truncate", "normalized")


class JinaEmbedder(HttpEmbedder):
    """``jina-embeddings-v3``/``v4`` (with task adapters) and the ``v2`` family."""

    default_base_url = "https://api.jina.ai/v1"
    default_credential = "JINA_API_KEY"
    credential_required = True
    path = "/embeddings"
    input_limit = 2048
    default_max_batch = 2048
    accepted_options = frozenset({"task", *_PASSED_OPTIONS})

    def request_body(self, batch: Sequence[str], kind: EmbedKind) -> dict[str, Any]:
        """Build ``{model, input, embedding_type, task?, dimensions?, ...options}``."""
        body: dict[str, Any] = {
            "model": self.model,
            "input": list(batch),
            "embedding_type": "float",
        }
        task = self.profile.options.get("task")
        if task is None and self._has_task_adapters():
            task = _TASKS[kind]
        if task is not None:
            body["task"] = task
        if self.profile.dimensions is not None:
            body["dimensions"] = self.profile.dimensions
        for name in _PASSED_OPTIONS:
            if name in self.profile.options:
                body[name] = self.profile.options[name]
        return body

    def decode_vectors(self, raw: bytes) -> list[list[float]]:
        """Read ``data[].embedding`` in ``index`` order."""
        return decode_embedding_list(raw)

    def _has_task_adapters(self) -> bool:
        match = _VERSION.search(self.model)
        return match is not None and int(match.group(1)) >= 3
