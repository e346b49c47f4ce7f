"""Seed 000's TrainJob ``distillation``, real: API B's answers → a promoted answer memory.

Config (seed 000): ``sample_limit`` (500) and ``teacher_confidence_threshold``
(0.8), as the ``training_dataset_analysis`` trigger enqueues them; and ours,
all optional: ``window_hours`` (``DISTILLATION_WINDOW_HOURS``), ``min_samples``
(``DISTILLATION_MIN_SAMPLES``), ``teacher_provider`` (only answers of that
provider), ``holdout_fraction`` (0.2), ``seed`` (0), ``similarity``
(``DISTILLATION_SIMILARITY``), ``similarity_threshold`` (lexical 0.6, embedding
0.9), ``agreement_threshold`` (token F1, 0.6), ``min_agreement``
(``DISTILLATION_MIN_AGREEMENT``, 0.9).

One run:

1. the teacher: up to ``sample_limit`` of the window's API-B answers with
   confidence >= the threshold and no negative feedback, newest first
   (:mod:`.distillation_store`, :mod:`.distillation_data`); PII redacted again
   (:func:`neuralbridge.guardrails.redact`), queries normalized, empty and
   duplicate queries dropped (the newest answer kept). Fewer than
   ``min_samples`` end the run ``cancelled`` with the counts;
2. a train/held-out split (ordered by request id, shuffled with ``seed``);
   the student — an answer memory (:mod:`neuralbridge.learning.memory`) — is
   built from the train part, with query embeddings in ``embedding`` mode
   (the ``RAG_EMBEDDER_*`` query embedder, the one the proxy pipeline uses);
3. the held-out queries are asked of the memory: coverage, agreement rate
   (token F1 with API B's answer >= ``agreement_threshold``) and the
   **projected fallback reduction** — ``agreed / heldout * eligible /
   api_b_calls``: the held-out share answered in agreement, applied to the
   window's teacher-quality API-B calls; the other API-B calls are counted
   as not answered (a conservative projection);
4. the memory is **activated** only when it answered some held-out query and
   its agreement rate is >= ``min_agreement``; otherwise **rejected**. Every
   run is recorded in ``distillation_runs``; an activated memory is uploaded
   and KV ``answer_memory`` points at it (:mod:`.distillation_publish`), and
   the proxy pipeline consults it before calling API B.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

import aiohttp
import msgspec
import structlog

from neuralbridge.core.settings import load_settings
from neuralbridge.embedders import EmbedderProfile, EmbedderSettings, create_embedder
from neuralbridge.learning.memory import (
    Evaluation,
    MemoryArtifact,
    MemoryEntry,
    MemoryIndex,
    evaluate,
)
from neuralbridge.trainer import distillation_publish as publish
from neuralbridge.trainer import distillation_store as store
from neuralbridge.trainer.distillation_data import TeacherSet, prepare_samples, split_samples
from neuralbridge.trainer.errors import CancelRunError, InsufficientDataError
from neuralbridge.trainer.runs import JobDef, RunContext

__all__ = [
    "DEFAULT_THRESHOLDS",
    "DistillationConfig",
    "distillation_job",
    "judge",
    "run_distillation",
]

log = structlog.get_logger()

#: The least similarity of a memory hit, per mode, unless the config says otherwise.
DEFAULT_THRESHOLDS: dict[str, float] = {"lexical": 0.6, "embedding": 0.9}

Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]


class DistillationConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A run's knobs (``JobRequest.config``); ``None`` takes the trainer's setting."""

    sample_limit: Annotated[int, msgspec.Meta(ge=1)] = 500
    teacher_confidence_threshold: Fraction = 0.8
    trigger_reason: str | None = None
    teacher_provider: str | None = None
    window_hours: Annotated[float, msgspec.Meta(gt=0)] | None = None
    min_samples: Annotated[int, msgspec.Meta(ge=2)] | None = None
    holdout_fraction: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 0.2
    seed: int = 0
    similarity: Literal["lexical", "embedding"] | None = None
    similarity_threshold: Fraction | None = None
    agreement_threshold: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.6
    min_agreement: Fraction | None = None


def judge(evaluation: Evaluation, min_agreement: float) -> tuple[bool, str]:
    """Activate only when the memory answered held-out queries in agreement often enough."""
    e = evaluation
    measured = (
        f"agreement {e.agreement_rate:.3f} ({e.agreed}/{e.answered} answered), "
        f"coverage {e.coverage:.3f} ({e.answered}/{e.heldout} held-out queries)"
    )
    if e.answered == 0 or e.agreed == 0:
        return False, f"no measured improvement: {measured}"
    if e.agreement_rate < min_agreement:
        return False, f"held-out {measured}; agreement below the minimum {min_agreement:g}"
    return True, f"held-out {measured}; minimum agreement {min_agreement:g}"


def distillation_job(env: Mapping[str, str] | None = None) -> JobDef:
    """The ``distillation`` job bound to the trainer's environment (embedder credentials)."""

    async def run(ctx: RunContext) -> dict[str, Any]:
        return await run_distillation(ctx, env or {})

    return JobDef(name="distillation", run=run)


def _config(run: RunContext) -> DistillationConfig:
    try:
        return msgspec.convert(run.request.config, DistillationConfig, strict=False)
    except (msgspec.ValidationError, ValueError) as exc:
        raise CancelRunError(f"invalid distillation config: {exc}") from None


async def run_distillation(run: RunContext, env: Mapping[str, str]) -> dict[str, Any]:
    """The ``distillation`` job (module docstring)."""
    config, s = _config(run), run.settings
    await publish.declare_memory_buckets(run.bus.js)
    done = await store.recorded_results(run.pool, run.run_id)
    if done is not None:  # a retried run: judged and recorded by an earlier attempt
        return {**done, "active_version": await publish.publish_active(run.bus.js, run.pool)}
    until = run.clock()
    since = until - timedelta(hours=config.window_hours or s.distillation_window_hours)
    threshold, provider = config.teacher_confidence_threshold, config.teacher_provider
    rows = await store.select_teacher(run.pool, since, until, threshold=threshold,
                                      limit=config.sample_limit, provider=provider)  # fmt: skip
    counts = await store.count_window(run.pool, since, until, threshold=threshold,
                                      provider=provider)  # fmt: skip
    teacher = prepare_samples(rows)
    await run.progress(15.0, f"{len(teacher.samples)} teacher answers")
    minimum = config.min_samples or s.distillation_min_samples
    if len(teacher.samples) < minimum:
        raise InsufficientDataError(
            f"too few teacher answers: {len(teacher.samples)} usable of {teacher.selected} "
            f"selected ({teacher.duplicates} duplicates, {teacher.empty} empty; "
            f"{counts.api_b_calls} API-B calls in the window), at least {minimum} needed"
        )
    similarity = config.similarity or s.distillation_similarity
    samples, embedder = list(teacher.samples), None
    if similarity == "embedding":
        await run.progress(20.0, "embedding queries")
        samples, embedder = await _embed(run, samples, env)
    train, heldout = split_samples(samples, config.holdout_fraction, seed=config.seed)
    artifact = MemoryArtifact(
        run_id=run.run_id, similarity=similarity, embedder=embedder, entries=train,
        threshold=(
            config.similarity_threshold
            if config.similarity_threshold is not None
            else DEFAULT_THRESHOLDS[similarity]
        ),
    )  # fmt: skip
    await run.progress(50.0, f"memory of {len(train)} answers built")
    evaluation = evaluate(
        MemoryIndex(artifact), heldout, agreement_threshold=config.agreement_threshold
    )
    await run.progress(80.0, f"evaluated on {len(heldout)} held-out queries")
    window = {"since": since.isoformat(), "until": until.isoformat()}
    return await _promote(
        run, config, artifact=artifact, heldout=heldout, evaluation=evaluation,
        teacher=teacher, counts=counts, window=window,
    )  # fmt: skip


async def _embed(
    run: RunContext, samples: list[MemoryEntry], env: Mapping[str, str]
) -> tuple[list[MemoryEntry], str]:
    """The samples with their query vectors, and the embedder's identity."""
    s = run.settings
    try:
        profile = msgspec.convert(
            {"provider": s.rag_embedder_provider, "model": s.rag_embedder_model,
             "base_url": s.rag_embedder_base_url, "credential": s.rag_embedder_credential,
             "dimensions": s.rag_embedder_dimensions},
            EmbedderProfile,
        )  # fmt: skip
    except msgspec.ValidationError as exc:
        raise CancelRunError(
            f"RAG_EMBEDDER_PROVIDER/RAG_EMBEDDER_MODEL are invalid: {exc}"
        ) from None
    async with aiohttp.ClientSession() as session:
        embedder = create_embedder(
            profile, session=session, settings=load_settings(EmbedderSettings, env), env=env
        )
        try:
            vectors = await embedder.embed([e.query for e in samples], kind="query")
        finally:
            await embedder.aclose()
    embedded = [
        msgspec.structs.replace(e, vector=[float(x) for x in v])
        for e, v in zip(samples, vectors, strict=True)
    ]
    return embedded, profile.cache_identity


async def _promote(
    run: RunContext, config: DistillationConfig, *, artifact: MemoryArtifact,
    heldout: list[MemoryEntry], evaluation: Evaluation, teacher: TeacherSet,
    counts: store.WindowCounts, window: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    """Judge, upload when activated, record the run, publish the pointer."""
    min_agreement = (
        config.min_agreement
        if config.min_agreement is not None
        else run.settings.distillation_min_agreement
    )
    activate, reason = judge(evaluation, min_agreement)
    share = counts.eligible / counts.api_b_calls if counts.api_b_calls else 0.0
    reduction = round(evaluation.agreed_share * share, 6)
    await run.check_cancelled()
    object_name = sha = None
    if activate:
        object_name, sha = await publish.upload_artifact(run.bus.js, artifact)
    new = store.NewRun(
        run_id=run.run_id, activate=activate, reason=reason, similarity=artifact.similarity,
        similarity_threshold=artifact.threshold, agreement_threshold=config.agreement_threshold,
        min_agreement=min_agreement, counts=counts, teacher_samples=len(teacher.samples),
        train_samples=len(artifact.entries), heldout_request_ids=[h.request_id for h in heldout],
        answered=evaluation.answered, agreed=evaluation.agreed,
        coverage=round(evaluation.coverage, 6),
        agreement_rate=round(evaluation.agreement_rate, 6),
        projected_fallback_reduction=reduction, config=msgspec.to_builtins(config),
        embedder=artifact.embedder, object_name=object_name, sha256=sha,
    )  # fmt: skip
    version = await store.record_run(run.pool, new)
    active_version = await publish.publish_active(run.bus.js, run.pool)
    await run.progress(95.0, "activated" if activate else "rejected")
    log.info("distillation_judged", version=version, activated=activate, reason=reason,
             projected_fallback_reduction=reduction)  # fmt: skip
    return {
        "decision": "activated" if activate else "rejected",
        "reason": reason,
        "version": version,
        "active_version": active_version,
        "window": window,
        "teacher": {
            **teacher.counts(),
            "eligible": counts.eligible,
            "window_api_b_calls": counts.api_b_calls,
        },
        "split": {"train": len(artifact.entries), "heldout": len(heldout), "seed": config.seed},
        "similarity": {
            "mode": artifact.similarity,
            "threshold": artifact.threshold,
            "embedder": artifact.embedder,
        },
        "evaluation": evaluation.as_dict(),
        "agreement_threshold": config.agreement_threshold,
        "min_agreement": min_agreement,
        "projected_fallback_reduction": reduction,
    }
