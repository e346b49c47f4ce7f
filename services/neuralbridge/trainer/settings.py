"""The trainer's settings: retry delays per error class, the analysis's thresholds."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from neuralbridge.core.settings import CommonSettings, Secret

__all__ = ["TrainerSettings"]

Seconds = Annotated[float, msgspec.Meta(gt=0)]


class TrainerSettings(CommonSettings, frozen=True, kw_only=True):
    """Error recovery (seed 000) and the training-data analysis.

    ``RATE_LIMIT_RETRY_SECONDS``: a rate-limited job is retried after
    ``attempt * this`` (seed 000: ``schedule_in(minutes: job.attempt * 5)``).
    ``CLEANUP_RETRY_SECONDS``: a failed cleanup job is retried after this
    (seed 000: ``{:retry, delay: :timer.minutes(30)}``).
    ``TRAINING_ANALYSIS_WINDOW_HOURS``: the analysis looks back this far (24 h).
    ``TRAINING_ANALYSIS_MIN_QUERIES``: with fewer queries in the window the
    analysis is cancelled as "insufficient data" (our choice: averages over
    fewer than 10 answers are noise).
    ``TRAINING_JOB_TIMEOUT_SECONDS``: time limit of the fine-tune/distillation
    jobs the analysis enqueues.
    """

    rate_limit_retry_seconds: Seconds = 300.0
    cleanup_retry_seconds: Seconds = 1800.0
    training_analysis_window_hours: Seconds = 24.0
    training_analysis_min_queries: Annotated[int, msgspec.Meta(ge=1)] = 10
    training_job_timeout_seconds: Seconds = 7200.0
    # RAG training (seed 001; see neuralbridge.trainer.rag_training): the query adapter of
    # RAG_COLLECTION is trained from the pairs of the last RAG_TRAINING_WINDOW_DAYS (7) when
    # there are at least RAG_TRAINING_MIN_SAMPLES; queries are embedded with the proxy's
    # RAG_EMBEDDER_* profile (the same variables, so both embed alike).
    rag_training_min_samples: Annotated[int, msgspec.Meta(ge=1)] = 1000
    rag_training_window_days: Seconds = 7.0
    rag_collection: str = "knowledge"
    rag_embedder_provider: str = "local"
    rag_embedder_model: str = "all-MiniLM-L6-v2"
    rag_embedder_base_url: str | None = None
    rag_embedder_credential: str | None = None
    rag_embedder_dimensions: Annotated[int, msgspec.Meta(ge=1)] | None = None
    # A/B analysis (seed 001; see neuralbridge.trainer.ab_analysis): an experiment concludes
    # when its always-valid p-value is <= 1 - AB_TEST_SIGNIFICANCE_LEVEL (the seed's 0.95 is a
    # confidence level) and each arm has AB_TEST_MIN_SAMPLE_SIZE rated answers.
    ab_test_min_sample_size: Annotated[int, msgspec.Meta(ge=1)] = 1000
    ab_test_significance_level: Annotated[float, msgspec.Meta(gt=0.5, lt=1)] = 0.95
    # Fine-tuning (issue 6; see neuralbridge.trainer.fine_tune): backend ``openai`` calls
    # OPENAI_BASE_URL (default https://api.openai.com/v1) with OPENAI_API_KEY; without a key
    # fine_tune runs end cancelled. FINE_TUNE_BASE_MODEL is the model a job's config may
    # override; FINE_TUNE_POLL_SECONDS is how often the upstream job and its events are read.
    openai_api_key: Secret | None = None
    openai_base_url: str | None = None
    fine_tune_base_model: str = "gpt-4o-mini-2024-07-18"
    fine_tune_poll_seconds: Seconds = 30.0
    # Cache cleanup (seed 000's CacheCleanupWorker; see neuralbridge.trainer.cache_cleanup):
    # CACHE_CLEANUP_TIMEOUT_SECONDS waits for the one pipeline that deletes expired rows;
    # CACHE_CLEANUP_BROADCAST_WINDOW_SECONDS collects the memory-purge replies of every
    # pipeline instance.
    cache_cleanup_timeout_seconds: Seconds = 30.0
    cache_cleanup_broadcast_window_seconds: Seconds = 2.0
    # Feedback cleanup (seed 001; see neuralbridge.trainer.feedback_cleanup): feedback given
    # more than FEEDBACK_RETENTION_DAYS ago is archived to gzip JSONL under
    # FEEDBACK_ARCHIVE_DIR (default <NB_DATA_DIR>/archive/feedback), then deleted.
    feedback_retention_days: Annotated[int, msgspec.Meta(ge=1)] = 180
    feedback_archive_dir: str | None = None
    # Agent training pipeline (seed 002; see neuralbridge.trainer.agents):
    # AGENTS_DIR (default <NB_DATA_DIR>/agents) holds <agent_id>/<category>/ and processed/;
    # the external trainer is AGENT_TRAINER_COMMAND (shell words) or, as in the seed,
    # PYTHON_PATH AGENT_TRAINER_SCRIPT; the payload file's path is appended.
    agents_dir: str | None = None
    agent_trainer_command: str | None = None
    agent_trainer_script: str | None = None
    python_path: str = "python3"
    agent_trainer_timeout_seconds: Seconds = 7200.0
    # Distillation (issue 6; see neuralbridge.trainer.distillation): an answer memory built
    # from API B's answers of the last DISTILLATION_WINDOW_HOURS is promoted only when its
    # held-out agreement with API B is >= DISTILLATION_MIN_AGREEMENT; runs with fewer than
    # DISTILLATION_MIN_SAMPLES teacher answers are cancelled. DISTILLATION_SIMILARITY:
    # ``embedding`` (the RAG_EMBEDDER_* query embedder, as the proxy's) or ``lexical``.
    distillation_min_agreement: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.9
    distillation_min_samples: Annotated[int, msgspec.Meta(ge=2)] = 10
    distillation_window_hours: Seconds = 168.0
    distillation_similarity: Literal["embedding", "lexical"] = "embedding"
