"""Seed 001's RAG training, real: a query adapter trained from rated answers, promoted on evidence.

One run of ``rag_training`` (daily at 03:00 on the ``learning`` queue):

1. the training pairs of the last ``RAG_TRAINING_WINDOW_DAYS`` (7) — rated
   answers grouped into positive/negative pairs per query
   (:mod:`.rag_data`); fewer than ``RAG_TRAINING_MIN_SAMPLES`` pairs end the
   run ``cancelled`` with the count;
2. the cited chunks' vectors from Qdrant, the queries embedded with the
   collection's query embedder (``RAG_EMBEDDER_*``);
3. a held-out split by query (fixed seed), the adapter trained on the rest
   (:mod:`neuralbridge.learning.adapter`), progress reported per epoch
   (which is also where a cancellation stops it);
4. recall@5 and MRR@10 on the held-out queries for the base embedding, the
   active adapter and the candidate; the candidate is registered as a new
   version and activated only by the rule in :mod:`.rag_registry` (which also
   rolls back an active version that became harmful).

``JobRequest.config`` may override: ``collection``, ``min_samples``,
``window_days``, ``holdout_fraction``, ``min_improvement``,
``eval_corpus_limit`` and the :class:`AdapterConfig` fields (``epochs``,
``learning_rate``, ``temperature``, ``l2``, ``batch_size``, ``seed``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import aiohttp
import msgspec
import structlog
from qdrant_client import AsyncQdrantClient

from neuralbridge.core.settings import load_settings
from neuralbridge.embedders import EmbedderProfile, EmbedderSettings, create_embedder
from neuralbridge.learning.adapter import AdapterConfig, AdapterTrainer, RetrievalMetrics
from neuralbridge.trainer import rag_registry, rag_store
from neuralbridge.trainer.errors import CancelRunError
from neuralbridge.trainer.rag_dataset import RagDataset, build_dataset
from neuralbridge.trainer.rag_registry import Verdict
from neuralbridge.trainer.rag_store import AdapterRow, NewAdapter
from neuralbridge.trainer.runs import JobDef, RunContext

__all__ = ["RagTrainingConfig", "rag_training_job", "run_rag_training"]

log = structlog.get_logger()

NO_QDRANT = "rag_training needs Qdrant: set QDRANT_URL (or QDRANT_PATH for local mode)"
_RESTORE_CANDIDATES = 3


class RagTrainingConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A run's knobs (``JobRequest.config``); ``None`` takes the trainer's setting."""

    collection: str | None = None
    min_samples: int | None = None
    window_days: float | None = None
    holdout_fraction: float = 0.2
    min_improvement: float = 0.01
    eval_corpus_limit: int = 5000
    epochs: int = 30
    learning_rate: float = 0.01
    temperature: float = 0.05
    l2: float = 0.001
    batch_size: int = 128
    seed: int = 0

    def adapter(self) -> AdapterConfig:
        """The training hyper-parameters."""
        return AdapterConfig(
            epochs=self.epochs, learning_rate=self.learning_rate, temperature=self.temperature,
            l2=self.l2, batch_size=self.batch_size, seed=self.seed,
        )  # fmt: skip


def _config(run: RunContext) -> tuple[RagTrainingConfig, AdapterConfig]:
    try:
        config = msgspec.convert(run.request.config, RagTrainingConfig, strict=False)
        return config, config.adapter()
    except (msgspec.ValidationError, ValueError) as exc:
        raise CancelRunError(f"invalid rag_training config: {exc}") from None


def rag_training_job(
    qdrant: AsyncQdrantClient | None = None, env: Mapping[str, str] | None = None
) -> JobDef:
    """The ``rag_training`` job bound to the trainer's Qdrant client and environment."""

    async def run(ctx: RunContext) -> dict[str, Any]:
        if qdrant is None:
            raise CancelRunError(NO_QDRANT)
        return await run_rag_training(ctx, qdrant, env or {})

    return JobDef(name="rag_training", run=run)


async def run_rag_training(
    run: RunContext, qdrant: AsyncQdrantClient, env: Mapping[str, str]
) -> dict[str, Any]:
    """The ``rag_training`` job (module docstring)."""
    config, adapter_config = _config(run)
    s = run.settings
    collection = config.collection or s.rag_collection
    until = run.clock()
    since = until - timedelta(days=config.window_days or s.rag_training_window_days)
    await rag_registry.declare_adapter_buckets(run.bus.js)
    async with aiohttp.ClientSession() as session:
        embedder = create_embedder(
            _profile(run), session=session, settings=load_settings(EmbedderSettings, env), env=env
        )
        data = await build_dataset(
            run, qdrant, embedder, collection=collection, since=since, until=until,
            min_samples=config.min_samples or s.rag_training_min_samples,
            holdout_fraction=config.holdout_fraction, seed=config.seed,
            eval_corpus_limit=config.eval_corpus_limit,
        )  # fmt: skip
    trainer = AdapterTrainer(data.pairs, adapter_config)
    for epoch in range(1, adapter_config.epochs + 1):
        loss = await asyncio.to_thread(trainer.epoch)
        await run.progress(20.0 + 65.0 * epoch / adapter_config.epochs,
                           f"epoch {epoch}/{adapter_config.epochs} loss {loss:.4f}")  # fmt: skip
    results = await _promote(run, data, trainer, collection, config)
    return {
        "collection": collection,
        "window": {"since": since.isoformat(), "until": until.isoformat()},
        "pairs": data.counts,
        "config": msgspec.to_builtins(config),
        "final_loss": round(trainer.losses[-1], 6),
        **results,
    }


def _profile(run: RunContext) -> EmbedderProfile:
    s = run.settings
    try:
        return msgspec.convert(
            {"provider": s.rag_embedder_provider, "model": s.rag_embedder_model,
             "base_url": s.rag_embedder_base_url, "credential": s.rag_embedder_credential,
             "dimensions": s.rag_embedder_dimensions},
            EmbedderProfile,
        )  # fmt: skip
    except msgspec.ValidationError as exc:
        raise CancelRunError(
            f"RAG_EMBEDDER_PROVIDER/RAG_EMBEDDER_MODEL are invalid: {exc}"
        ) from None


async def _promote(
    run: RunContext, data: RagDataset, trainer: AdapterTrainer, collection: str,
    config: RagTrainingConfig,
) -> dict[str, Any]:  # fmt: skip
    """Evaluate, register the candidate, apply the verdict, publish the pointer."""
    base = data.evaluate(None)
    candidate = data.evaluate(trainer.weights)
    active_row = await rag_store.active_adapter(run.pool, collection)
    active = await _measure(run, data, active_row)
    await run.progress(90.0, "evaluated")
    done = await rag_store.adapter_of_run(run.pool, run.run_id, collection)
    if done is not None:  # a retried run: its candidate is registered already
        verdict = Verdict(
            activate=done.status == "active", reason="registered by an earlier attempt"
        )
        registered = rag_registry.Registered(version=done.version)
    else:
        verdict = rag_registry.judge(
            base, candidate, None if active is None else (active[0].version, active[1]),
            min_improvement=config.min_improvement,
        )  # fmt: skip
        restore = await _restorable(run, data, base) if verdict.roll_back_active else None
        object_name = f"{collection}/{run.run_id}.npy"
        sha = await rag_registry.upload_weights(run.bus.js, object_name, trainer.weights)
        new = NewAdapter(
            collection=collection, run_id=run.run_id, object_name=object_name, sha256=sha,
            dimensions=data.dimensions, train_pairs=data.counts["train_pairs"],
            heldout_queries=data.counts["heldout_queries"],
            config=msgspec.to_builtins(config), metrics_before=base.as_dict(),
            metrics_after=candidate.as_dict(),
        )  # fmt: skip
        registered = await rag_registry.register(run.pool, new, verdict, active_row, restore)
    active_version = await rag_registry.publish_active(run.bus.js, run.pool, collection)
    log.info("rag_adapter_judged", collection=collection, version=registered.version,
             activated=verdict.activate, reason=verdict.reason)  # fmt: skip
    return {
        "decision": "activated" if verdict.activate else "rejected",
        "reason": verdict.reason,
        "version": registered.version,
        "active_version": active_version,
        "rolled_back": registered.rolled_back,
        "restored": registered.restored,
        "metrics": {
            "base": base.as_dict(),
            "active": None if active is None else active[1].as_dict(),
            "candidate": candidate.as_dict(),
        },
    }


async def _measure(
    run: RunContext, data: RagDataset, row: AdapterRow | None
) -> tuple[AdapterRow, RetrievalMetrics] | None:
    """The active version's metrics on this run's held-out set (``None``: none usable)."""
    if row is None:
        return None
    if row.dimensions != data.dimensions:
        log.warning("rag_active_adapter_other_dimensions", version=row.version)
        return None
    weights = await rag_registry.load_weights(run.bus.js, row)
    return row, data.evaluate(weights)


async def _restorable(
    run: RunContext, data: RagDataset, base: RetrievalMetrics
) -> AdapterRow | None:
    """The newest earlier active version that still beats the base on this held-out set."""
    for row in await rag_store.previous_adapters(run.pool, data.collection, _RESTORE_CANDIDATES):
        measured = await _measure(run, data, row)
        if measured is None:
            continue
        metrics = measured[1]
        if metrics.mrr_at_10 > base.mrr_at_10 and metrics.recall_at_5 >= base.recall_at_5:
            return row
    return None
