"""The LLM stage and API B: ask the primary, check its answer, fall back when needed.

API B (``FALLBACK_*``) answers when the primary:

* fails — ``primary_error`` (refused, unavailable after its retries, misconfigured)
  or ``primary_timeout`` (no answer or no first token in time);
* breaks mid-stream — ``stream_broken``;
* answers empty or with a refusal — ``primary_guardrails``;
* answers below ``CONFIDENCE_THRESHOLD`` — ``low_confidence``.

For the last two the better-scored answer wins (API B on a tie), so a weak
fallback never replaces a stronger primary answer. Without API B, a failed
primary ends the request with ``NoAnswer`` (error class of the LLM error) and a
weak answer is returned as it is, with its low confidence.

Streaming: the primary's deltas are forwarded as they come. When the stream
breaks, or its finished answer is replaced, a reset delta is sent and API B's
answer streams after it; the final ``ProxyAnswer`` is authoritative either way.
A broken stream with no API B (or a failing one) ends in ``ProxyFailure`` —
never in an answer built from the truncated text.

Answer memory (issue 6, :mod:`.answer_memory`): when API B is about to be
called, the active memory distilled from API B's past answers is asked first
with the redacted question. A hit whose answer passes the output checks
(no ``problem``) is the fallback's answer — provider ``answer_memory``, the
same ``fallback_reason`` — and API B is not called
(``nb_answer_memory_hits_total``); a miss goes on to API B.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from neuralbridge.learning.memory import MEMORY_PROVIDER
from neuralbridge.llm import (
    ChatRequest,
    ChatResult,
    Delta,
    Done,
    LLMClient,
    LLMError,
    LLMProfile,
    LLMStreamBroken,
    LLMUnavailable,
)
from neuralbridge.proxy_pipeline import metrics as m
from neuralbridge.proxy_pipeline.answer_memory import HITS, AnswerMemory
from neuralbridge.proxy_pipeline.confidence import Assessment, assess
from neuralbridge.proxy_pipeline.errors import NoAnswer
from neuralbridge.proxy_pipeline.llms import LLMPool
from neuralbridge.proxy_pipeline.replies import Replier

__all__ = ["Generated", "Generator"]

log = structlog.get_logger()

_FAILURES = (LLMError, LLMUnavailable, LLMStreamBroken)


@dataclass(frozen=True, slots=True)
class Generated:
    """The chosen answer."""

    result: ChatResult
    assessment: Assessment
    fallback_reason: str | None = None


class Generator:
    """Run the LLM stage for one prompt (see the module docstring)."""

    def __init__(
        self,
        pool: LLMPool,
        *,
        threshold: float,
        ungrounded: float,
        memory: AnswerMemory | None = None,
    ) -> None:
        self._pool, self._threshold, self._ungrounded = pool, threshold, ungrounded
        self._memory = memory

    async def generate(
        self,
        profile: LLMProfile,
        request: ChatRequest,
        passages: Sequence[str],
        replier: Replier | None,
        *,
        question: str | None = None,
    ) -> Generated:
        """Answer ``request``; stream deltas through ``replier`` when given.

        ``question`` (redacted) is what the answer memory is asked before API B.

        Raises:
            NoAnswer: no provider produced an answer.
        """
        try:
            with m.stage("generation"):
                result = await self._ask(self._pool.client(profile), request, replier)
        except _FAILURES as exc:
            reason = _reason(exc)
            log.warning("primary_llm_failed", reason=reason, error_class=exc.error_class,
                        error=str(exc), provider=profile.provider)  # fmt: skip
            return await self._fallback_or_fail(
                request, passages, replier, reason, exc, question=question
            )
        primary = Generated(result, self._assess(result.text, passages))
        problem = primary.assessment.problem
        if problem is None or self._pool.fallback is None:
            return primary
        try:
            backup = await self._fallback(request, passages, replier, problem, question=question)
        except _FAILURES as exc:
            log.warning("fallback_llm_failed", reason=problem, error_class=exc.error_class,
                        error=str(exc))  # fmt: skip
            return primary
        if backup.assessment.confidence >= primary.assessment.confidence:
            return backup
        return primary

    async def _fallback_or_fail(
        self,
        request: ChatRequest,
        passages: Sequence[str],
        replier: Replier | None,
        reason: str,
        primary_error: LLMError | LLMUnavailable | LLMStreamBroken,
        *,
        question: str | None = None,
    ) -> Generated:
        if self._pool.fallback is None:
            raise NoAnswer(str(primary_error), error_class=primary_error.error_class)
        try:
            return await self._fallback(request, passages, replier, reason, question=question)
        except _FAILURES as exc:
            raise NoAnswer(
                f"primary failed ({primary_error.error_class}) and API B failed: {exc}",
                error_class=exc.error_class,
            ) from None

    async def _fallback(
        self,
        request: ChatRequest,
        passages: Sequence[str],
        replier: Replier | None,
        reason: str,
        *,
        question: str | None = None,
    ) -> Generated:
        assert self._pool.fallback is not None
        remembered = await self._remembered(question, passages, replier, reason)
        if remembered is not None:
            return remembered
        m.FALLBACKS.labels(reason).inc()
        if replier is not None:
            await replier.reset()
        with m.stage("fallback"):
            result = await self._ask(self._pool.client(self._pool.fallback), request, replier)
        return Generated(result, self._assess(result.text, passages), fallback_reason=reason)

    async def _remembered(
        self, question: str | None, passages: Sequence[str], replier: Replier | None, reason: str
    ) -> Generated | None:
        """The answer memory's answer instead of API B's, or ``None`` (a miss)."""
        if self._memory is None or question is None:
            return None
        with m.stage("answer_memory"):
            hit = await self._memory.lookup(question)
        if hit is None:
            return None
        assessment = self._assess(hit.entry.answer, passages)
        if assessment.problem is not None:
            log.info("answer_memory_hit_refused", problem=assessment.problem)
            return None
        HITS.inc()
        if replier is not None:
            await replier.reset()
            await replier.delta(assessment.text)
            await replier.flush()
        version = self._memory.version
        result = ChatResult(
            text=assessment.text, model=f"{MEMORY_PROVIDER}-v{version}", provider=MEMORY_PROVIDER
        )
        log.info("answer_memory_hit", version=version, similarity=round(hit.similarity, 4))
        return Generated(result, assessment, fallback_reason=reason)

    async def _ask(
        self, client: LLMClient, request: ChatRequest, replier: Replier | None
    ) -> ChatResult:
        if replier is None:
            return await client.complete(request)
        async for event in client.stream(request):
            match event:
                case Delta(text=text):
                    await replier.delta(text)
                case Done(result=result):
                    await replier.flush()
                    return result
        raise LLMStreamBroken(f"{client.provider}: stream ended without its final event")

    def _assess(self, text: str, passages: Sequence[str]) -> Assessment:
        with m.stage("output_guardrails"):
            return assess(text, passages, threshold=self._threshold, ungrounded=self._ungrounded)


def _reason(exc: LLMError | LLMUnavailable | LLMStreamBroken) -> str:
    if isinstance(exc, LLMStreamBroken):
        return "stream_broken"
    if isinstance(exc, LLMUnavailable) and exc.error_type == "timeout":
        return "primary_timeout"
    return "primary_error"
