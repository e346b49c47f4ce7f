"""``trainer.ab.create|list|stop``, and the ``ab_experiments`` KV mirror of the table.

The trainer owns the experiments (its table is the truth); every change is put
in the KV bucket under the experiment id so the proxy pipeline, which watches
the bucket, starts or stops assigning variants at once. Served by the shared
responder: a refused request (or one the database could not store) is answered
with :class:`ExperimentReply` ``error`` set (the CLI prints it); one that does
not decode, or any other failure, with an ``ErrorReply`` — never with silence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import structlog
from nats.js.kv import KeyValue

from neuralbridge.core.bus import Bus, BusSubscription
from neuralbridge.core.responder import serve
from neuralbridge.core.schemas import Message, encode
from neuralbridge.core.subjects import AB_EXPERIMENTS_KV, TRAINER_AB_SUBJECT
from neuralbridge.messages.experiments import (
    Experiment,
    ExperimentList,
    ExperimentReply,
    ExperimentSpec,
    StopExperiment,
)
from neuralbridge.messages.trainer_queries import ListExperiments
from neuralbridge.trainer import experiments as store
from neuralbridge.trainer.runs import Clock

__all__ = ["mirror_experiment", "serve_experiments"]

log = structlog.get_logger()

Q = TypeVar("Q", bound=Message)


async def mirror_experiment(bus: Bus, experiment: Experiment) -> None:
    """Put the experiment's current state in the ``ab_experiments`` bucket."""
    kv: KeyValue = await bus.js.key_value(AB_EXPERIMENTS_KV)
    await kv.put(experiment.id, encode(experiment))


async def serve_experiments(bus: Bus, pool: asyncpg.Pool, clock: Clock) -> list[BusSubscription]:
    """Answer experiment requests (a queue group: one replica answers each)."""

    async def create(spec: ExperimentSpec) -> ExperimentReply:
        experiment = await store.create_experiment(pool, spec, clock())
        await mirror_experiment(bus, experiment)
        log.info("ab_experiment_created", experiment=experiment.id, kind=experiment.kind,
                 variants=[v.name for v in experiment.variants])  # fmt: skip
        return ExperimentReply(experiment=experiment)

    async def stop(request: StopExperiment) -> ExperimentReply:
        experiment = await store.stop_experiment(pool, request.id, request.reason, clock())
        await mirror_experiment(bus, experiment)
        log.info("ab_experiment_stopped", experiment=experiment.id, reason=request.reason)
        return ExperimentReply(experiment=experiment)

    async def list_all(_: ListExperiments) -> ExperimentList:
        return ExperimentList(experiments=await store.list_experiments(pool))

    subject = TRAINER_AB_SUBJECT
    return [
        await serve(bus, f"{subject}.create", ExperimentSpec, _refusing(create), queue="trainer"),
        await serve(bus, f"{subject}.stop", StopExperiment, _refusing(stop), queue="trainer"),
        await serve(bus, f"{subject}.list", ListExperiments, list_all, queue="trainer"),
    ]


def _refusing(
    handler: Callable[[Q], Awaitable[ExperimentReply]],
) -> Callable[[Q], Awaitable[ExperimentReply]]:
    """Answer a refusal, or a database that could not store it, as ``ExperimentReply.error``."""

    async def on_request(request: Q) -> ExperimentReply:
        try:
            return await handler(request)
        except store.ExperimentRejectedError as exc:
            return ExperimentReply(error=str(exc))
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("ab_request_failed", error_class=type(exc).__name__)
            return ExperimentReply(error=f"the trainer could not store it: {type(exc).__name__}")

    return on_request
