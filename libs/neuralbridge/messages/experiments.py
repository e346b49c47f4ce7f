"""A/B experiments: their definition, their live state, and the trainer's replies.

* :class:`ExperimentSpec` — what ``nb ab create`` asks the trainer for on
  ``trainer.ab.create``; the reply is an :class:`ExperimentReply`.
* :class:`Experiment` — one experiment; the trainer keeps it in its
  ``ab_experiments`` table and mirrors it in the KV bucket ``ab_experiments``
  (key = experiment id), which the proxy pipeline watches to assign variants.
* :class:`ExperimentAnalysis` — the hourly ``ab_test_analysis`` job's look at
  one experiment (per-arm metrics, tests, decision).
* :class:`StopExperiment` (``trainer.ab.stop``) and ``trainer.ab.list`` (any
  body) answered with :class:`ExperimentList`.

Exactly two variants: the first is the control. A ``provider`` experiment
varies the LLM provider, model and/or temperature of each variant (unset
fields keep the pipeline's default); a ``prompt`` experiment varies the
answer instructions (``instructions``; unset keeps the built-in prompt).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from neuralbridge.core.schemas import Message

__all__ = [
    "ArmStats",
    "Experiment",
    "ExperimentAnalysis",
    "ExperimentKind",
    "ExperimentList",
    "ExperimentReply",
    "ExperimentSpec",
    "ExperimentStatus",
    "StopExperiment",
    "Variant",
]

ExperimentKind = Literal["prompt", "provider"]
ExperimentStatus = Literal["running", "concluded", "stopped"]
VariantName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,40}$")]


class Variant(msgspec.Struct, frozen=True, kw_only=True):
    """One arm of an experiment and what it changes in the pipeline.

    Attributes:
        name: Letters, digits, ``-`` and ``_`` (it is a label in logs and results).
        weight: Relative share of sessions (weights need not sum to 1).
        provider: ``provider`` experiments: the LLM provider to answer with.
        model: ``provider`` experiments: the model.
        temperature: ``provider`` experiments: the sampling temperature.
        instructions: ``prompt`` experiments: the system instructions that replace
            the built-in ones (the retrieved passages still follow them).
        prompt_version: A label for the instructions (e.g. a prompt-optimization run).
    """

    name: VariantName
    weight: Annotated[float, msgspec.Meta(gt=0, le=1000)] = 1.0
    provider: Literal["openai", "ollama", "extractive"] | None = None
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    instructions: Annotated[str, msgspec.Meta(min_length=1, max_length=8000)] | None = None
    prompt_version: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class ExperimentSpec(Message, frozen=True, kw_only=True):
    """A request to start an experiment (``trainer.ab.create``)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: ExperimentKind
    variants: Annotated[list[Variant], msgspec.Meta(min_length=2, max_length=2)]


class Experiment(Message, frozen=True, kw_only=True):
    """An experiment and where it stands (KV ``ab_experiments``, key = ``id``).

    Attributes:
        reason: Why it concluded or stopped, or why the last analysis withheld a
            decision (e.g. a sample-ratio mismatch).
        always_valid_p: The running always-valid p-value of the positive-rate
            difference (1.0 before the first analysis).
    """

    id: str
    name: str
    kind: ExperimentKind
    variants: list[Variant]
    status: ExperimentStatus
    winner: str | None = None
    reason: str | None = None
    always_valid_p: float = 1.0
    started_at: str
    concluded_at: str | None = None
    analysed_at: str | None = None


class ArmStats(msgspec.Struct, frozen=True, kw_only=True):
    """One variant's outcomes since the experiment started.

    ``sessions`` are the distinct sessions assigned (the unit of assignment),
    ``assigned`` their answers, ``rated`` those with feedback.
    ``positive_rate`` is the share of rated answers scored 4 or 5; the score and
    latency means are over rated answers and all answers respectively (0.0 when
    there are none), with sample standard deviations.
    """

    variant: str
    sessions: int
    assigned: int
    rated: int
    positive: int
    positive_rate: float
    score_mean: float
    score_sd: float
    latency_ms_mean: float
    latency_ms_sd: float


class ExperimentAnalysis(msgspec.Struct, frozen=True, kw_only=True):
    """One look at an experiment; ``decision`` is ``concluded``, ``continue`` or ``srm``.

    ``positive_rate_p`` (two-proportion z-test), ``score_p`` and ``latency_p``
    (Welch t-tests) are fixed-horizon p-values, reported for reading only; the
    decision rests on ``always_valid_p`` alone.
    """

    experiment_id: str
    analysed_at: str
    arms: list[ArmStats]
    difference: float
    positive_rate_z: float
    positive_rate_p: float
    score_p: float | None
    latency_p: float | None
    log_likelihood_ratio: float
    always_valid_p: float
    srm_p: float
    srm_flagged: bool
    decision: Literal["concluded", "continue", "srm"]
    winner: str | None
    reason: str


class StopExperiment(Message, frozen=True, kw_only=True):
    """Stop a running experiment without a winner (``trainer.ab.stop``)."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] = "stopped by hand"


class ExperimentReply(Message, frozen=True, kw_only=True):
    """The experiment created or stopped, or why not (``error``)."""

    experiment: Experiment | None = None
    error: str | None = None


class ExperimentList(Message, frozen=True, kw_only=True):
    """Every experiment, newest first."""

    experiments: list[Experiment] = msgspec.field(default_factory=list)
