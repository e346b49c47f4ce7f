"""Composition of the proxy pipeline: settings, clients, cache, one runner on PROXY_REQUESTS."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import msgspec
import structlog

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.heartbeat import start_heartbeat
from neuralbridge.core.runner import JobRunner
from neuralbridge.core.service import Deps, ServiceSpec
from neuralbridge.core.settings import load_settings
from neuralbridge.core.subjects import PROXY_SESSIONS_KV
from neuralbridge.embedders import EmbedderProfile, EmbedderSettings, create_embedder
from neuralbridge.llm import LLMConfigError, LLMProfile, LLMSettings, profile_from_env
from neuralbridge.messages.proxy import ProxyRequest
from neuralbridge.proxy_pipeline.adapters import QueryAdapters
from neuralbridge.proxy_pipeline.after_reply import AfterReply
from neuralbridge.proxy_pipeline.answer_memory import AnswerMemory
from neuralbridge.proxy_pipeline.cache import ResponseCache
from neuralbridge.proxy_pipeline.cleanup import serve_cleanup
from neuralbridge.proxy_pipeline.experiments import ExperimentBook
from neuralbridge.proxy_pipeline.keyfilter import KnownKeys
from neuralbridge.proxy_pipeline.pipeline import PipelineParts, ProxyHandler
from neuralbridge.proxy_pipeline.provider_health import TrackedPool, probe_idle
from neuralbridge.proxy_pipeline.retrieval import Retriever
from neuralbridge.proxy_pipeline.sessions import SessionStore
from neuralbridge.proxy_pipeline.settings import ProxyPipelineSettings
from neuralbridge.proxy_pipeline.stats import serve_stats
from neuralbridge.proxy_pipeline.topology import declare_all, requests_work

__all__ = ["SERVICE", "main"]

log = structlog.get_logger()

MIGRATIONS = Path(__file__).with_name("migrations")
#: How often expired cache rows are swept (seed 000's CacheCleanupWorker runs hourly).
_SWEEP_SECONDS = 3600.0


async def main(deps: Deps[ProxyPipelineSettings], stop: asyncio.Event) -> None:
    """Answer PROXY_REQUESTS until ``stop`` is set."""
    s = deps.settings
    if deps.qdrant is None:
        raise ConfigError(
            "configuration error: QDRANT_URL (or QDRANT_PATH for local mode) is required "
            "by proxy_pipeline"
        )
    primary, fallback, embedder_profile = _profiles(deps)
    work = requests_work(ack_wait=s.proxy_ack_wait, schedule=s.proxy_retry_schedule)
    await declare_all(
        deps.bus.js, work, session_ttl=s.session_ttl_seconds, replicas=s.nats_stream_replicas
    )
    deps.declared()
    sessions = SessionStore(
        await deps.bus.js.key_value(PROXY_SESSIONS_KV), max_turns=s.session_max_turns
    )
    every = s.cache_key_filter_refresh_seconds
    known = None
    if s.cache_enabled and every > 0:
        known = KnownKeys(deps.pool, min_capacity=s.cache_max_size, stale_after=max(30, 10 * every))
    cache = ResponseCache(
        deps.pool, max_size=s.cache_max_size, ttl=s.cache_ttl_seconds, enabled=s.cache_enabled,
        known=known,
    )  # fmt: skip
    async with aiohttp.ClientSession() as session:
        embedder = create_embedder(
            embedder_profile,
            session=session,
            settings=msgspec.structs.replace(
                load_settings(EmbedderSettings, deps.env),
                requests_per_second=s.rag_embedder_requests_per_second,
            ),
            env=deps.env,
        )
        llms = TrackedPool(
            session, load_settings(LLMSettings, deps.env), deps.env,
            primary=primary, fallback=fallback,
        )  # fmt: skip
        adapters = await QueryAdapters.start(deps.bus.js, s.rag_collection)
        experiments = await ExperimentBook.start(deps.bus.js)
        answer_memory = await AnswerMemory.start(
            deps.bus.js, embedder=embedder, embedder_identity=embedder_profile.cache_identity
        )
        retriever = Retriever(
            embedder, deps.qdrant, collection=s.rag_collection, top_k=s.rag_top_k,
            score_threshold=s.rag_score_threshold,
            adapters=adapters,
        )  # fmt: skip
        after_reply = AfterReply(
            deps.bus, sessions, cache, linger=s.proxy_after_reply_linger_seconds
        )
        parts = PipelineParts(
            bus=deps.bus, cache=cache, retriever=retriever, sessions=sessions, llms=llms,
            settings=s, max_deliver=work.max_deliver, after_reply=after_reply,
            experiments=experiments, answer_memory=answer_memory,
        )  # fmt: skip
        runner = JobRunner(
            deps.bus, work, ProxyRequest, ProxyHandler(parts),
            concurrency=s.proxy_concurrency, grace=s.shutdown_grace_seconds,
        )  # fmt: skip
        replica = start_heartbeat(deps, stop)
        cleanup = await serve_cleanup(deps.bus, cache)
        cleanup.append(
            await serve_stats(deps.bus, replica, lambda: [w.snapshot() for w in llms.watches()])
        )
        chores = [asyncio.create_task(_sweep(cache)), asyncio.create_task(probe_idle(llms))]
        if known is not None:
            chores.append(asyncio.create_task(known.run(every)))
        log.info("proxy_pipeline_ready", provider=primary.provider, model=primary.model,
                 fallback=fallback.provider if fallback else None,
                 collection=s.rag_collection)  # fmt: skip
        after_reply.start()
        try:
            await runner.run(stop)
        finally:
            await after_reply.close()  # after the runner: draining handlers still record
            for sub in cleanup:
                await sub.unsubscribe()
            for chore in chores:
                chore.cancel()
            await adapters.close()
            await experiments.close()
            await answer_memory.close()
            await asyncio.gather(*chores, return_exceptions=True)


def _profiles(
    deps: Deps[ProxyPipelineSettings],
) -> tuple[LLMProfile, LLMProfile | None, EmbedderProfile]:
    """Primary, API B and query-embedder profiles, or one clear configuration error."""
    try:
        primary = profile_from_env(deps.env)
    except LLMConfigError as exc:
        raise ConfigError(f"configuration error: {exc}") from None
    try:
        embedder = deps.settings.embedder_profile()
    except msgspec.ValidationError as exc:
        raise ConfigError(
            f"configuration error: RAG_EMBEDDER_PROVIDER/RAG_EMBEDDER_MODEL are invalid: {exc}"
        ) from None
    return primary, deps.settings.fallback_profile(), embedder


async def _sweep(cache: ResponseCache) -> None:
    """Delete expired cache rows now and then."""
    while True:
        await asyncio.sleep(_SWEEP_SECONDS)
        try:
            deleted = await cache.sweep()
        except Exception as exc:  # noqa: BLE001 - the next sweep tries again
            log.warning("cache_sweep_failed", error=str(exc))
        else:
            log.info("cache_swept", deleted=deleted)


SERVICE = ServiceSpec(
    name="proxy_pipeline",
    settings_type=ProxyPipelineSettings,
    main=main,
    schema="proxy_pipeline",
    migrations=MIGRATIONS,
)
