"""The trainer's settings: retry delays per error class, the analysis's thresholds."""

from __future__ import annotations

from typing import Annotated

import msgspec

from neuralbridge.core.settings import CommonSettings

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
