"""``trainer.ab.create|list|stop``, and the ``ab_experiments`` KV mirror of the table.

The trainer owns the experiments (its table is the truth); every change is put
in the KV bucket under the experiment id so the proxy pipeline, which watches
the bucket, starts or stops assigning variants at once. A refused request is
answered with :class:`ExperimentReply` ``error`` set (the CLI prints it), never
with silence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import structlog
from nats.aio.msg import Msg
from nats.js.kv import KeyValue

from neuralbridge.core.bus import Bus, BusSubscription
from neuralbridge.core.errors import PayloadError
from neuralbridge.core.schemas import decode, encode
from neuralbridge.core.subjects import AB_EXPERIMENTS_KV, TRAINER_AB_SUBJECT
from neuralbridge.messages.experiments import (
    Experiment,
    ExperimentList,
    ExperimentReply,
    ExperimentSpec,
    StopExperiment,
)
from neuralbridge.trainer import experiments as store
from neuralbridge.trainer.runs import Clock

__all__ = ["mirror_experiment", "serve_experiments"]

log = structlog.get_logger()


async def mirror_experiment(bus: Bus, experiment: Experiment) -> None:
    """Put the experiment's current state in the ``ab_experiments`` bucket."""
    kv: KeyValue = await bus.js.key_value(AB_EXPERIMENTS_KV)
    await kv.put(experiment.id, encode(experiment))


async def serve_experiments(bus: Bus, pool: asyncpg.Pool, clock: Clock) -> list[BusSubscription]:
    """Answer experiment requests (a queue group: one replica answers each)."""

    async def create(msg: Msg) -> ExperimentReply:
        spec = decode(msg.data, ExperimentSpec)
        experiment = await store.create_experiment(pool, spec, clock())
        await mirror_experiment(bus, experiment)
        log.info("ab_experiment_created", experiment=experiment.id, kind=experiment.kind,
                 variants=[v.name for v in experiment.variants])  # fmt: skip
        return ExperimentReply(experiment=experiment)

    async def stop(msg: Msg) -> ExperimentReply:
        request = decode(msg.data, StopExperiment)
        experiment = await store.stop_experiment(pool, request.id, request.reason, clock())
        await mirror_experiment(bus, experiment)
        log.info("ab_experiment_stopped", experiment=experiment.id, reason=request.reason)
        return ExperimentReply(experiment=experiment)

    async def list_all(_: Msg) -> ExperimentList:
        return ExperimentList(experiments=await store.list_experiments(pool))

    handlers: dict[str, Callable[[Msg], Awaitable[ExperimentReply | ExperimentList]]] = {
        "create": create, "stop": stop, "list": list_all,
    }  # fmt: skip
    subs = []
    for action, handler in handlers.items():
        subs.append(await bus.subscribe(
            f"{TRAINER_AB_SUBJECT}.{action}", queue="trainer", cb=_answering(handler)
        ))  # fmt: skip
    return subs


def _answering(
    handler: Callable[[Msg], Awaitable[ExperimentReply | ExperimentList]],
) -> Callable[[Msg], Awaitable[None]]:
    async def on_request(msg: Msg) -> None:
        try:
            reply: ExperimentReply | ExperimentList = await handler(msg)
        except (PayloadError, store.ExperimentRejectedError) as exc:
            reply = ExperimentReply(error=str(exc))
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("ab_request_failed", subject=msg.subject, error=str(exc))
            reply = ExperimentReply(error=f"the trainer could not store it: {exc}")
        await msg.respond(encode(reply))

    return on_request
