"""The request handler: input guardrails → cache → RAG → LLM → output guardrails → API B.

One :class:`ProxyRequest` in, replies out on its ``reply_to`` (see
:mod:`neuralbridge.messages.proxy`), then — for answers — the session turn and
a :class:`QueryLogged` event. A request past its deadline is answered with
``DeadlineExceeded`` and never processed; the whole pipeline runs under the
deadline too. Refusals (guardrails, deadline, no provider) are replies, not
job failures, so the runner acks them. Anything else (NATS, PostgreSQL, Qdrant
down) is retried on the ``PROXY_RETRY_SCHEDULE``; the last attempt tells the
client before giving up. The query is redacted before any stage after the
input guardrails sees it, and no log line carries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import msgspec
import structlog

from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import RetryableError
from neuralbridge.core.runner import JobContext
from neuralbridge.llm import ChatMessage, LLMConfigError, LLMProfile
from neuralbridge.messages.proxy import (
    GuardrailFinding,
    ProxyAnswer,
    ProxyRequest,
    QueryLogged,
    SourceRef,
)
from neuralbridge.proxy_pipeline import metrics as m
from neuralbridge.proxy_pipeline.after_reply import AfterReply
from neuralbridge.proxy_pipeline.answer_memory import AnswerMemory
from neuralbridge.proxy_pipeline.cache import (
    CachedAnswer,
    ResponseCache,
    cache_key,
    conversation_for_key,
)
from neuralbridge.proxy_pipeline.errors import DeadlineExceeded, RequestRefused
from neuralbridge.proxy_pipeline.experiments import Assignment, ExperimentBook
from neuralbridge.proxy_pipeline.generation import Generator
from neuralbridge.proxy_pipeline.guard import screen_query
from neuralbridge.proxy_pipeline.llms import LLMPool
from neuralbridge.proxy_pipeline.prompt import Prompt, build_request
from neuralbridge.proxy_pipeline.replies import Replier
from neuralbridge.proxy_pipeline.retrieval import Retriever
from neuralbridge.proxy_pipeline.sessions import SessionStore, Turn
from neuralbridge.proxy_pipeline.settings import ProxyPipelineSettings

__all__ = ["PipelineParts", "ProxyHandler"]

log = structlog.get_logger()

_EXCERPT_CHARS = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineParts:
    """What the handler is built from (opened by the composition root)."""

    bus: Bus
    cache: ResponseCache
    retriever: Retriever
    sessions: SessionStore
    llms: LLMPool
    settings: ProxyPipelineSettings
    max_deliver: int
    after_reply: AfterReply
    experiments: ExperimentBook | None = None
    answer_memory: AnswerMemory | None = None


class ProxyHandler:
    """Handle :class:`ProxyRequest` messages (see the module docstring)."""

    def __init__(self, parts: PipelineParts) -> None:
        self._p = parts
        s = parts.settings
        self._generator = Generator(
            self._p.llms, threshold=s.confidence_threshold, ungrounded=s.ungrounded_confidence,
            memory=parts.answer_memory,
        )  # fmt: skip

    async def __call__(self, request: ProxyRequest, ctx: JobContext) -> None:
        started = time.monotonic()
        structlog.contextvars.bind_contextvars(request_id=request.request_id)
        replier = Replier(self._p.bus.nc, request, attempt=ctx.deliveries)
        try:
            if ctx.deliveries > 1 and request.stream:
                await replier.reset(always=True)
            ab = self._p.experiments.assign(request) if self._p.experiments else None
            routed = ab.apply(request) if ab else request
            answered = await self._answer_in_time(routed, replier, started, ab)
            await self._after_answer(request, answered, ab)
        except RequestRefused as exc:
            await self._refuse(replier, exc)
        except Exception as exc:
            raise await self._retry_or_give_up(replier, ctx, exc) from exc
        finally:
            structlog.contextvars.unbind_contextvars("request_id")

    async def _answer_in_time(
        self, request: ProxyRequest, replier: Replier, started: float, ab: Assignment | None
    ) -> _Answered:
        """:meth:`_answer` under the request's deadline."""
        remaining = request.deadline - time.time()
        if remaining <= 0:
            raise DeadlineExceeded("the request's deadline passed before it was processed")
        try:
            async with asyncio.timeout(remaining):
                return await self._answer(request, replier, started, ab)
        except TimeoutError:
            raise DeadlineExceeded("the request's deadline passed while answering") from None

    async def _answer(
        self, request: ProxyRequest, replier: Replier, started: float, ab: Assignment | None
    ) -> _Answered:
        """Reply with the answer; return it, the redacted question and a new cache entry."""
        s = self._p.settings
        with m.stage("input_guardrails"):
            screened = screen_query(
                request.query, max_chars=s.max_input_chars,
                injection_threshold=s.injection_threshold, history=request.history,
                max_turns=s.session_max_turns, redact_prompt=s.pii_redact_llm_input,
            )  # fmt: skip
        try:
            profile = self._p.llms.profile_for(request)
        except LLMConfigError as exc:
            raise RequestRefused(str(exc), error_class=exc.error_class) from None
        namespace = ab.cache_namespace(s.cache_namespace) if ab else s.cache_namespace
        namespace += self._p.retriever.knowledge_tag
        # The conversation the answer depends on: the client's own, else the session's.
        # Part of the key, so a follow-up is answered from the cache only within the
        # same conversation (a session's first question has none: its key is shared;
        # a repeated question keys on the conversation as it was when first asked).
        history = screened.history
        if history is None:
            history = await self._history(request.session_id)
        prompt = Prompt(
            redacted=screened.text, question=screened.prompt_text or screened.text,
            history=history if screened.prompt_history is None else screened.prompt_history,
            redacted_history=history,
        )  # fmt: skip
        key = cache_key(
            screened.text, profile, request.temperature, namespace,
            conversation_for_key(screened.text, history),
        )  # fmt: skip
        fresh: tuple[str, CachedAnswer] | None = None
        hit, cached = await self._cached_or_generated(request, key, prompt, profile, replier, ab)
        if not cached:
            if hit.confidence >= s.confidence_threshold and prompt.cacheable:
                self._p.cache.remember(key, hit)  # persisted after the reply (after_reply)
                fresh = (key, hit)
        elif request.stream:
            await replier.delta(hit.answer)
            await replier.flush()
        answer = _answer(request, hit, cached, screened.findings, started)
        await replier.answer(answer)
        return _Answered(answer, screened.text, fresh)

    async def _cached_or_generated(  # noqa: PLR0917 - the request's parts, all needed
        self,
        request: ProxyRequest,
        key: str,
        prompt: Prompt,
        profile: LLMProfile,
        replier: Replier,
        ab: Assignment | None,
    ) -> tuple[CachedAnswer, bool]:
        """The cache hit (``True``), or a generated answer (``False``)."""
        if not prompt.cacheable:
            return await self._generate(request, prompt, profile, replier, ab=ab), False
        with m.stage("cache"):
            hit = self._p.cache.get_remembered(key)
        if hit is not None:
            return hit, True
        with m.stage("cache"):
            hit = await self._p.cache.get_persisted(key)
        if hit is not None:
            return hit, True
        generated = await self._generate(request, prompt, profile, replier, ab=ab)
        return generated, False

    async def _history(self, session_id: str) -> list[ChatMessage]:
        """The session's history: stored turns, then those still waiting to be stored here."""
        pending = self._p.after_reply.pending_turns(session_id)  # before the read (see there)
        with m.stage("session"):
            return await self._p.sessions.history(session_id, pending)

    async def _generate(
        self,
        request: ProxyRequest,
        prompt: Prompt,
        profile: LLMProfile,
        replier: Replier,
        *,
        ab: Assignment | None = None,
    ) -> CachedAnswer:
        question = prompt.question
        with m.stage("retrieval"):
            sources = await self._p.retriever.search(prompt.redacted)
        chat = build_request(question, sources, prompt.history, temperature=request.temperature)
        if ab is not None:
            chat = ab.instruct(chat)
        generated = await self._generator.generate(
            profile, chat, [src.text for src in sources], replier if request.stream else None,
            question=question,
        )  # fmt: skip
        return CachedAnswer(
            answer=generated.assessment.text,
            sources=[_excerpt(src) for src in sources],
            provider=generated.result.provider,
            model=generated.result.model,
            confidence=generated.assessment.confidence,
            fallback_used=generated.fallback_reason is not None,
            fallback_reason=generated.fallback_reason,
            output_findings=generated.assessment.findings,
        )

    async def _after_answer(
        self, request: ProxyRequest, answered: _Answered, ab: Assignment | None = None
    ) -> None:
        """Metrics, the session turn and the query-log event (the answer is already sent).

        The turn and the event are group-committed (:mod:`.after_reply`) and
        idempotent per request id, so a redelivery after a crash here repeats
        them harmlessly.
        """
        answer, question = answered.answer, answered.question
        m.REQUESTS.labels("cached" if answer.cached else "answered").inc()
        m.REQUEST_DURATION.labels(answer.provider).observe(answer.latency_ms / 1000)
        m.CONFIDENCE.observe(answer.confidence)
        turn = None  # the client keeps the conversation: no session turn
        if request.history is None:
            turn = Turn(request_id=request.request_id, question=question, answer=answer.answer)
        event = QueryLogged(
            request_id=request.request_id, session_id=request.session_id, query=question,
            answer=answer.answer, provider=answer.provider, model=answer.model,
            confidence=answer.confidence, fallback_used=answer.fallback_used,
            fallback_reason=answer.fallback_reason, cached=answer.cached,
            latency_ms=answer.latency_ms, sources=answer.sources, logged_at=time.time(),
            experiment=ab.experiment.id if ab else None,
            variant=ab.variant.name if ab else None,
        )  # fmt: skip
        await self._p.after_reply.record(request.session_id, turn, event, answered.cache_entry)
        log.info("proxy_answered", provider=answer.provider, model=answer.model,
                 cached=answer.cached, confidence=answer.confidence,
                 fallback_reason=answer.fallback_reason, latency_ms=answer.latency_ms)  # fmt: skip

    async def _refuse(self, replier: Replier, exc: RequestRefused) -> None:
        outcome = {"GuardrailBlocked": "blocked", "DeadlineExceeded": "expired"}
        m.REQUESTS.labels(outcome.get(exc.error_class, "failed")).inc()
        log.info("proxy_refused", error_class=exc.error_class, error=str(exc))
        await replier.fail(str(exc), exc.error_class)

    async def _retry_or_give_up(
        self, replier: Replier, ctx: JobContext, exc: Exception
    ) -> RetryableError:
        """The retry on the schedule to raise; tell the client when this was the last attempt."""
        schedule = self._p.settings.proxy_retry_schedule or (1.0,)
        log.warning("proxy_attempt_failed", deliveries=ctx.deliveries,
                    error_class=type(exc).__name__, error=str(exc))  # fmt: skip
        if ctx.deliveries >= self._p.max_deliver:
            m.REQUESTS.labels("failed").inc()
            with contextlib.suppress(Exception):
                await replier.fail(f"internal error: {type(exc).__name__}", "InternalError")
        delay = schedule[min(ctx.deliveries, len(schedule)) - 1]
        return RetryableError(f"{type(exc).__name__}: {exc}", delay=delay)


@dataclass(frozen=True, slots=True)
class _Answered:
    """A sent answer, its redacted question and the cache entry it created (if any)."""

    answer: ProxyAnswer
    question: str
    cache_entry: tuple[str, CachedAnswer] | None


def _excerpt(source: SourceRef) -> SourceRef:
    if len(source.text) <= _EXCERPT_CHARS:
        return source
    text = source.text[:_EXCERPT_CHARS].rsplit(" ", 1)[0] + "…"
    return msgspec.structs.replace(source, text=text)  # keeps collection and point_id


def _answer(
    request: ProxyRequest,
    hit: CachedAnswer,
    cached: bool,
    input_findings: list[GuardrailFinding],
    started: float,
) -> ProxyAnswer:
    return ProxyAnswer(
        request_id=request.request_id,
        answer=hit.answer,
        sources=hit.sources,
        provider=hit.provider,
        model=hit.model,
        cached=cached,
        confidence=hit.confidence,
        fallback_used=hit.fallback_used,
        fallback_reason=hit.fallback_reason,
        guardrails=[*input_findings, *hit.output_findings],
        latency_ms=round((time.monotonic() - started) * 1000, 2),
    )
