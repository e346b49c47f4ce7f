"""A/B experiments at query time: which variant a request gets, and what that changes.

The trainer owns the experiments and mirrors each to the KV bucket
``ab_experiments``; :class:`ExperimentBook` watches the bucket and keeps the
running one (the trainer lets one run at a time). For each request,
:meth:`ExperimentBook.assign` picks the variant with the sticky hash of
:mod:`neuralbridge.learning.assignment` (same session, same variant, in every
replica), and the :class:`Assignment` applies it:

* ``provider`` experiments set the request's provider, model and/or
  temperature (a request that names its own provider or model is left out of
  the experiment: the caller asked for something specific);
* ``prompt`` experiments replace the answer instructions at the head of the
  system message (:mod:`neuralbridge.proxy_pipeline.prompt` writes the
  instructions, a blank line, then the passages), and get a cache namespace of
  their own so variants never share cached answers.

The pipeline names the experiment and variant in its ``QueryLogged`` event,
which is how the trainer's ``ab_test_analysis`` attributes outcomes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import msgspec
import structlog
from nats.js import JetStreamContext
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from neuralbridge.core import kvwatch
from neuralbridge.core.errors import PayloadError
from neuralbridge.core.schemas import decode
from neuralbridge.core.subjects import AB_EXPERIMENTS_KV
from neuralbridge.core.topology import KVSpec, declare_kv
from neuralbridge.learning.assignment import assign_variant
from neuralbridge.llm import ChatMessage, ChatRequest
from neuralbridge.messages.experiments import Experiment, Variant
from neuralbridge.messages.proxy import ProxyRequest

__all__ = ["Assignment", "ExperimentBook"]

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Assignment:
    """The variant of one experiment that a request gets."""

    experiment: Experiment
    variant: Variant

    def apply(self, request: ProxyRequest) -> ProxyRequest:
        """The request with the variant's provider, model and temperature (where set)."""
        v = self.variant
        changes = {"provider": v.provider, "model": v.model, "temperature": v.temperature}
        set_ = {k: value for k, value in changes.items() if value is not None}
        return msgspec.structs.replace(request, **set_) if set_ else request

    def instruct(self, chat: ChatRequest) -> ChatRequest:
        """The chat with the variant's instructions heading the system message."""
        instructions = self.variant.instructions
        if instructions is None or not chat.messages or chat.messages[0].role != "system":
            return chat
        _, blank, passages = chat.messages[0].content.partition("\n\n")
        system = ChatMessage(role="system", content=instructions + blank + passages)
        return msgspec.structs.replace(chat, messages=[system, *chat.messages[1:]])

    def cache_namespace(self, namespace: str) -> str:
        """Prompt variants answer differently from the same profile: a namespace each."""
        if self.experiment.kind != "prompt":
            return namespace
        return f"{namespace}|ab:{self.experiment.id}:{self.variant.name}"


class ExperimentBook:
    """The running experiment, kept current by a watch on ``ab_experiments``.

    Build with :meth:`start`; :meth:`close` stops the watch.
    """

    def __init__(self) -> None:
        self._running: dict[str, Experiment] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, js: JetStreamContext) -> ExperimentBook:
        """Load the experiments in the bucket, then follow its changes."""
        await declare_kv(js, KVSpec(bucket=AB_EXPERIMENTS_KV, history=1))
        book = cls()
        kv = await js.key_value(AB_EXPERIMENTS_KV)
        watcher = await kv.watchall()
        while (entry := await watcher.updates(timeout=10.0)) is not None:  # type: ignore[no-untyped-call]
            book.update(entry)
        book._task = kvwatch.follow(kv, book._on_entry, key=None, name="ab-experiments-watch",
                                    watcher=watcher)  # fmt: skip
        return book

    async def close(self) -> None:
        """Stop following the bucket."""
        await kvwatch.stop(self._task)
        self._task = None

    @property
    def running(self) -> list[Experiment]:
        """The running experiments, oldest first."""
        return sorted(self._running.values(), key=lambda e: (e.started_at, e.id))

    def assign(self, request: ProxyRequest) -> Assignment | None:
        """The variant ``request`` gets, or ``None`` when no experiment applies to it."""
        running = self.running
        if not running:
            return None
        experiment = running[0]
        if experiment.kind == "provider" and (request.provider or request.model):
            return None
        weights = [(v.name, v.weight) for v in experiment.variants]
        name = assign_variant(experiment.id, request.session_id, weights)
        variant = next(v for v in experiment.variants if v.name == name)
        return Assignment(experiment=experiment, variant=variant)

    def update(self, entry: KeyValue.Entry) -> None:
        """Apply one KV entry: a running experiment is kept, anything else dropped."""
        if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
            self._drop(entry.key, "deleted")
            return
        try:
            experiment = decode(entry.value, Experiment)
        except PayloadError as exc:
            log.warning("ab_experiment_unreadable", experiment=entry.key, error=str(exc))
            return
        if experiment.status != "running":
            self._drop(entry.key, experiment.status)
            return
        if experiment.id not in self._running:
            log.info("ab_experiment_applied", experiment=experiment.id, kind=experiment.kind,
                     variants=[v.name for v in experiment.variants])  # fmt: skip
        self._running[experiment.id] = experiment

    def _drop(self, key: str, why: str) -> None:
        if self._running.pop(key, None) is not None:
            log.info("ab_experiment_ended", experiment=key, status=why)

    async def _on_entry(self, entry: KeyValue.Entry) -> None:
        self.update(entry)
