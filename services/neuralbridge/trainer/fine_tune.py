"""Seed 000's TrainJob ``fine_tune``, real: feedback-rated answers → a fine-tuned model.

Config (seed 000, all optional): ``dataset_limit`` (1000), ``learning_rate``
(0.0001), ``epochs`` (3), ``batch_size`` (4), ``validation_split`` (0.2), and
ours: ``backend`` (``openai``), ``model`` (``FINE_TUNE_BASE_MODEL``), ``suffix``.
OpenAI takes a learning-rate *multiplier*; the seed's base rate 0.0001 maps to
1.0 (so the analysis's conservative 0.00005 → 0.5, aggressive 0.0002 → 2.0).

Pipeline: select answers scored >= 4 not yet used (:mod:`.fine_tune_store`),
build and validate the chat JSONL (:mod:`.fine_tune_data`; fewer than 10 usable
examples → cancelled, "insufficient data"), upload the training and validation
files, create the fine-tuning job, then follow it — its status and its events —
every ``FINE_TUNE_POLL_SECONDS``, with progress from the metrics events'
``step``/``total_steps``. A cancel request (``nb jobs cancel``) cancels the
upstream job too. On ``succeeded`` the model id and the last metrics are
recorded and the rows marked ``used_for_training`` in one transaction; a
``failed`` job fails the run with the API's error and leaves the rows unused.
A rate limit that outlasts the client's retries raises
:class:`~neuralbridge.trainer.errors.RateLimitedError` (a training-queue run is
then recorded failed and re-run by hand, see :mod:`.recovery`); any other
refusal fails the run with the API's message (never the key).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

import aiohttp
import msgspec
import structlog

from neuralbridge.llm import LLMUnavailable
from neuralbridge.llm.openai import OPENAI_BASE_URL
from neuralbridge.llm.openai_finetune import (
    FINAL_STATUSES,
    FineTuneClient,
    FineTuneHyperparameters,
    FineTuningJob,
)
from neuralbridge.trainer import fine_tune_store as ft_store
from neuralbridge.trainer.errors import (
    CancelRunError,
    InsufficientDataError,
    RateLimitedError,
    TrainerError,
)
from neuralbridge.trainer.fine_tune_data import (
    MIN_EXAMPLES,
    build_examples,
    encode_jsonl,
    split_examples,
)
from neuralbridge.trainer.fine_tune_follow import follow_job
from neuralbridge.trainer.runs import RunContext
from neuralbridge.trainer.settings import TrainerSettings

__all__ = [
    "BASE_LEARNING_RATE",
    "FineTuneConfig",
    "FineTuneConfigError",
    "UpstreamJobFailedError",
    "parse_config",
    "run_fine_tune",
]

log = structlog.get_logger()

#: Seed 000's base learning rate: OpenAI's multiplier 1.0.
BASE_LEARNING_RATE = 0.0001
BACKENDS = ("openai",)


class FineTuneConfigError(ValueError):
    """The job's config is unusable; the message names the field."""


class UpstreamJobFailedError(TrainerError):
    """The upstream fine-tuning job ended ``failed``; the message is the API's reason."""


class FineTuneConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A fine_tune job's config (``JobRequest.config``), validated."""

    dataset_limit: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000
    learning_rate: Annotated[float, msgspec.Meta(gt=0, le=1)] = BASE_LEARNING_RATE
    epochs: Annotated[int, msgspec.Meta(ge=1, le=50)] = 3
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=256)] = 4
    validation_split: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.2
    backend: str = "openai"
    model: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    suffix: Annotated[str, msgspec.Meta(max_length=64)] = "neuralbridge"
    trigger_reason: str | None = None

    def hyperparameters(self) -> FineTuneHyperparameters:
        """What the upstream API is asked for."""
        return FineTuneHyperparameters(
            n_epochs=self.epochs, batch_size=self.batch_size,
            learning_rate_multiplier=round(self.learning_rate / BASE_LEARNING_RATE, 6),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _CallSettings:
    """Per-request timeout and in-call retries of the fine-tuning client."""

    timeout: float = 120.0
    max_retries: int = 3
    retry_delay_ms: int = 1000


def parse_config(raw: dict[str, Any]) -> FineTuneConfig:
    """Validate the job's config.

    Raises:
        FineTuneConfigError: a field is unknown, mistyped or out of range.
    """
    try:
        return msgspec.convert(raw, FineTuneConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise FineTuneConfigError(f"fine_tune config: {exc}") from None


def _client(settings: TrainerSettings, session: aiohttp.ClientSession) -> FineTuneClient:
    if settings.openai_api_key is None or not settings.openai_api_key.reveal().strip():
        raise CancelRunError(
            "fine_tune: no training backend configured (OPENAI_API_KEY is not set)"
        )
    return FineTuneClient(
        base_url=settings.openai_base_url or OPENAI_BASE_URL,
        api_key=settings.openai_api_key.reveal().strip(), session=session,
        settings=_CallSettings(),
    )  # fmt: skip


async def run_fine_tune(run: RunContext) -> dict[str, Any]:
    """The ``fine_tune`` job."""
    config = parse_config(dict(run.request.config))
    if config.backend not in BACKENDS:
        raise CancelRunError(
            f"fine_tune: backend {config.backend!r} is not available (known: {', '.join(BACKENDS)})"
        )
    # The run's time limit counts from here; keep a margin to cancel the upstream job in.
    limit = run.request.timeout_seconds
    deadline = asyncio.get_running_loop().time() + limit - min(60.0, limit * 0.05)
    async with aiohttp.ClientSession() as session:
        client = _client(run.settings, session)
        try:
            return await _run(run, client, config, deadline)
        except LLMUnavailable as exc:
            if exc.error_type == "rate_limited":
                raise RateLimitedError(str(exc)) from None
            raise


async def _run(
    run: RunContext, client: FineTuneClient, config: FineTuneConfig, deadline: float
) -> dict[str, Any]:
    model = config.model or run.settings.fine_tune_base_model
    record = await ft_store.find_record(run.pool, run.run_id)
    if record is not None and record.upstream_job_id and record.status not in FINAL_STATUSES:
        log.info("fine_tune_resumed", upstream_job=record.upstream_job_id)
        job = await client.get_job(record.upstream_job_id)
        counts = {"train_examples": record.train_examples,
                  "validation_examples": record.validation_examples}  # fmt: skip
        return await _finish(run, client, job, request_ids=record.request_ids, summary=counts,
                             deadline=deadline)  # fmt: skip
    await run.progress(2.0, "selecting examples")
    candidates = await ft_store.select_candidates(run.pool, run.run_id, config.dataset_limit)
    dataset = build_examples(candidates)
    usable = len(dataset.examples)
    if usable < MIN_EXAMPLES:
        raise InsufficientDataError(
            f"insufficient data: {usable} usable examples (at least {MIN_EXAMPLES} needed; "
            f"{dataset.selected} answers scored >= 4 and unused, {dataset.duplicates} "
            f"duplicates, {dataset.invalid} invalid)"
        )
    train, validation = split_examples(dataset.examples, config.validation_split)
    summary: dict[str, Any] = {
        "selected": dataset.selected, "duplicates_removed": dataset.duplicates,
        "invalid_removed": dataset.invalid, "pii_redactions": dataset.pii_redactions,
        "train_examples": len(train), "validation_examples": len(validation),
    }  # fmt: skip
    hyper = config.hyperparameters()
    await ft_store.create_record(
        run.pool, run.run_id, backend=config.backend, base_model=model,
        request_ids=dataset.request_ids, train_examples=len(train),
        validation_examples=len(validation), hyperparameters=msgspec.to_builtins(hyper),
    )  # fmt: skip
    try:
        await run.progress(8.0, f"dataset ready: {len(train)} train, {len(validation)} validation")
        training = await client.upload_file(f"{run.run_id}-train.jsonl", encode_jsonl(train))
        validation_id = None
        if validation:
            name = f"{run.run_id}-validation.jsonl"
            validation_id = (await client.upload_file(name, encode_jsonl(validation))).id
        await run.progress(15.0, "files uploaded")
        job = await client.create_job(
            model=model, training_file=training.id, validation_file=validation_id,
            hyperparameters=hyper, suffix=config.suffix or None,
        )  # fmt: skip
    except BaseException as exc:  # the examples go back to the pool whatever happened
        status = "cancelled" if isinstance(exc, CancelRunError) else "failed"
        await ft_store.finish_failed(run.pool, run.run_id, status, _reason(exc))
        raise
    await ft_store.set_upstream(
        run.pool, run.run_id, job.status, job_id=job.id, training_file=training.id,
        validation_file=validation_id,
    )  # fmt: skip
    log.info("fine_tune_job_created", upstream_job=job.id, model=model, **summary)
    return await _finish(run, client, job, request_ids=dataset.request_ids, summary=summary,
                         deadline=deadline)  # fmt: skip


async def _finish(
    run: RunContext,
    client: FineTuneClient,
    job: FineTuningJob,
    *,
    request_ids: list[str],
    summary: dict[str, Any],
    deadline: float,
) -> dict[str, Any]:
    """Follow the job to its end; record the outcome."""
    try:
        job, metrics = await follow_job(run, client, job, deadline=deadline)
    except Exception as exc:  # recorded, then the dispatcher classifies it
        # A shutdown (CancelledError) is not caught: the record keeps the upstream
        # job, and the redelivered run resumes following it.
        status = "cancelled" if isinstance(exc, CancelRunError) else "failed"
        await ft_store.finish_failed(run.pool, run.run_id, status, _reason(exc))
        raise
    if job.status != "succeeded" or not job.fine_tuned_model:
        error = job.error.message if job.error and job.error.message else "no reason given"
        code = f" ({job.error.code})" if job.error and job.error.code else ""
        reason = client.scrub(f"fine-tuning job {job.id} {job.status}: {error}{code}")
        await ft_store.finish_failed(run.pool, run.run_id, job.status, reason)
        if job.status == "cancelled":
            raise CancelRunError(reason)
        raise UpstreamJobFailedError(reason)
    await run.progress(98.0, "recording the model")
    marked = await ft_store.finish_succeeded(
        run.pool, run.run_id, fine_tuned_model=job.fine_tuned_model,
        trained_tokens=job.trained_tokens, metrics=metrics,
    )  # fmt: skip
    log.info("fine_tune_succeeded", upstream_job=job.id, model=job.fine_tuned_model, marked=marked)
    return {
        "backend": "openai", "base_model": job.model, "upstream_job_id": job.id,
        "fine_tuned_model": job.fine_tuned_model, "trained_tokens": job.trained_tokens,
        "metrics": metrics, "marked_used": marked, **summary,
    }  # fmt: skip


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
