"""Composition of the trainer: one runner per queue, the event ingesters, the stats reads."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import structlog

from neuralbridge.core.heartbeat import start_heartbeat
from neuralbridge.core.runner import JobRunner
from neuralbridge.core.service import Deps, ServiceMain, ServiceSpec
from neuralbridge.messages.jobs import QUEUES, JobRequest, queue_work
from neuralbridge.trainer import metrics as m
from neuralbridge.trainer.agent_learning import execution_runner
from neuralbridge.trainer.agent_requests import serve_agents
from neuralbridge.trainer.agents import agents_root
from neuralbridge.trainer.dispatcher import Dispatcher
from neuralbridge.trainer.distillation import distillation_job
from neuralbridge.trainer.experiment_requests import serve_experiments
from neuralbridge.trainer.ingest import feedback_ingester, query_log_ingester
from neuralbridge.trainer.prompt_optimization import prompt_optimization_job
from neuralbridge.trainer.queries import serve_queries
from neuralbridge.trainer.rag_training import rag_training_job
from neuralbridge.trainer.registry import build_registry
from neuralbridge.trainer.runs import Clock, JobDef
from neuralbridge.trainer.settings import TrainerSettings
from neuralbridge.trainer.state import RunBoard
from neuralbridge.trainer.topology import declare_all

__all__ = ["SERVICE", "make_main"]

log = structlog.get_logger()

MIGRATIONS = Path(__file__).with_name("migrations")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def make_main(
    *, clock: Clock = _utc_now, extra_jobs: Iterable[JobDef] = ()
) -> ServiceMain[TrainerSettings]:
    """The service's main; tests inject a clock and extra jobs."""
    extra = tuple(extra_jobs)

    async def main(deps: Deps[TrainerSettings], stop: asyncio.Event) -> None:
        """Consume every queue and the event streams until ``stop`` is set."""
        s = deps.settings
        # Jobs that need the service's clients are bound here; tests' extra jobs still win.
        registry = build_registry(
            (
                rag_training_job(deps.qdrant, deps.env),
                prompt_optimization_job(deps.env),
                distillation_job(deps.env),
                *extra,
            )
        )
        await declare_all(deps.bus.js, replicas=s.nats_stream_replicas)
        deps.declared()
        start_heartbeat(deps, stop)
        board = await RunBoard.open(deps.bus)
        runners = []
        for queue, spec in QUEUES.items():
            work = queue_work(queue)
            dispatcher = Dispatcher(
                pool=deps.pool, bus=deps.bus, board=board, registry=registry, settings=s,
                clock=clock, max_deliver=work.max_deliver,
            )  # fmt: skip
            runners.append(
                JobRunner(
                    deps.bus,
                    work,
                    JobRequest,
                    dispatcher,
                    concurrency=spec.concurrency,
                    grace=s.shutdown_grace_seconds,
                )
            )
        # agent executions (prompt_optimization's input): a work stream with a DLQ
        runners.append(execution_runner(deps.bus, deps.pool, grace=s.shutdown_grace_seconds))
        ingesters = (
            query_log_ingester(deps.bus, deps.pool),
            feedback_ingester(deps.bus, deps.pool),
        )
        queries = await serve_queries(deps.bus, deps.pool)
        queries += await serve_agents(deps.bus, deps.pool, s, clock, agents_root(s))
        queries += await serve_experiments(deps.bus, deps.pool, clock)
        m.TRAINER_READY.set(1)
        try:
            await asyncio.gather(*(r.run(stop) for r in runners), *(i.run(stop) for i in ingesters))
        finally:
            m.TRAINER_READY.set(0)
            for sub in queries:
                await sub.unsubscribe()

    return main


SERVICE = ServiceSpec(
    name="trainer",
    settings_type=TrainerSettings,
    main=make_main(),
    schema="trainer",
    migrations=MIGRATIONS,
)
