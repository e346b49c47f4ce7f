"""Seed 001's prompt optimization, real: variants scored on held-out examples, proposed on evidence.

One run of ``prompt_optimization`` (Mondays 02:00 on the ``optimization`` queue):

1. eligible agents: at least ``min_executions`` (50) executions in the last
   ``window_days`` (30), at least ``min_examples`` (10) approved learning
   examples, and a ``system_prompt`` in the agent's ``model_config``. None → the
   run ends ``cancelled`` with the counts of what each agent lacked;
2. per agent, its newest approved examples (at most ``max_examples``, 100),
   split with ``random.Random(seed)`` into a few-shot pool and a held-out test
   set (``test_fraction``; :func:`~neuralbridge.learning.prompts.split_examples`);
3. four variants of the system prompt — ``clarified``, ``restructured`` and
   ``combined`` worded by the configured chat model (``LLM_PROVIDER`` …, as the
   proxy pipeline's :func:`~neuralbridge.llm.profile_from_env`) or by templates
   (``variant_source=templates``, or when the model's rewrite is empty);
   ``few_shot`` and ``combined`` carry up to ``max_shots`` pool examples;
4. the baseline and every variant answer each held-out input as the system
   prompt of that chat model (temperature 0), scored with token F1 against the
   expected output; a variant is proposed only when the paired bootstrap
   interval of its per-example improvement (``resamples``, ``confidence``,
   ``seed``) lies above 0 (:func:`~neuralbridge.learning.prompts.choose_proposal`);
5. each agent's evaluation is recorded in ``prompt_optimization_runs`` for
   review (``pending_review`` or ``no_proposal``); nothing is activated.

The offline ``extractive`` provider quotes passages and ignores system prompts,
so it cannot measure a prompt: without a chat model the run ends ``cancelled``
saying so, rather than inventing scores. Progress is reported per agent and
variant, which is also where ``nb jobs cancel`` stops the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

import aiohttp
import msgspec
import structlog

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.settings import load_settings
from neuralbridge.learning import prompts as p
from neuralbridge.llm import (
    ChatMessage,
    ChatRequest,
    LLMClient,
    LLMConfigError,
    LLMSettings,
    create_llm,
    profile_from_env,
)
from neuralbridge.trainer import prompt_store
from neuralbridge.trainer.errors import CancelRunError, InsufficientDataError
from neuralbridge.trainer.prompt_store import AgentCandidate, OptimizationRecord
from neuralbridge.trainer.runs import JobDef, RunContext

__all__ = ["NO_CHAT_MODEL", "PromptOptimizationConfig", "prompt_optimization_job"]

log = structlog.get_logger()

PROMPT_OPTIMIZATION = "prompt_optimization"
NO_CHAT_MODEL = (
    "prompt_optimization needs a chat model to run the prompts: set LLM_PROVIDER=openai or "
    "ollama (the offline extractive provider ignores system prompts, so it cannot score them)"
)
_STEPS = 1 + 1 + len(p.VARIANT_KINDS)  # generation, baseline, variants


class PromptOptimizationConfig(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True
):
    """A run's knobs (``JobRequest.config``); the defaults are seed 001's thresholds."""

    min_executions: int = 50
    window_days: float = 30.0
    min_examples: int = 10
    max_examples: int = 100
    test_fraction: float = 0.5
    max_shots: int = 3
    resamples: int = 2000
    confidence: float = 0.95
    seed: int = 0
    concurrency: int = 4
    max_tokens: int = 512
    variant_source: Literal["llm", "templates"] = "llm"
    agent_id: str | None = None

    def __post_init__(self) -> None:
        """Reject values that cannot work, naming them."""
        if self.min_examples < 2 or self.max_examples < self.min_examples:
            raise ValueError("need 2 <= min_examples <= max_examples")
        if self.min_executions < 0 or self.window_days <= 0 or self.concurrency < 1:
            raise ValueError("min_executions >= 0, window_days > 0 and concurrency >= 1 needed")
        if self.max_shots < 1 or self.max_tokens < 1:
            raise ValueError("max_shots and max_tokens must be >= 1")
        if not (0 < self.test_fraction < 1 and 0 < self.confidence < 1) or self.resamples < 100:
            raise ValueError("need 0 < test_fraction < 1, 0 < confidence < 1, resamples >= 100")


def _config(run: RunContext) -> PromptOptimizationConfig:
    try:
        return msgspec.convert(run.request.config, PromptOptimizationConfig, strict=False)
    except (msgspec.ValidationError, ValueError) as exc:
        raise CancelRunError(f"invalid prompt_optimization config: {exc}") from None


def prompt_optimization_job(env: Mapping[str, str] | None = None) -> JobDef:
    """The ``prompt_optimization`` job bound to the trainer's environment (its LLM profile)."""

    async def run(ctx: RunContext) -> dict[str, Any]:
        return await run_prompt_optimization(ctx, env or {})

    return JobDef(name=PROMPT_OPTIMIZATION, run=run)


def _eligible(agents: list[AgentCandidate], c: PromptOptimizationConfig) -> list[AgentCandidate]:
    eligible = [
        a for a in agents
        if a.system_prompt and a.executions >= c.min_executions
        and a.approved_examples >= c.min_examples
    ]  # fmt: skip
    if not eligible:
        few_runs = sum(a.executions < c.min_executions for a in agents)
        few_examples = sum(a.approved_examples < c.min_examples for a in agents)
        no_prompt = sum(not a.system_prompt for a in agents)
        raise InsufficientDataError(
            f"no eligible agent (each needs >= {c.min_executions} executions in "
            f"{c.window_days:g} days, >= {c.min_examples} approved examples and a "
            f"system_prompt): {len(agents)} agents, {few_runs} with too few executions, "
            f"{few_examples} with too few approved examples, {no_prompt} without system_prompt"
        )
    return eligible


async def run_prompt_optimization(run: RunContext, env: Mapping[str, str]) -> dict[str, Any]:
    """The ``prompt_optimization`` job (module docstring)."""
    config = _config(run)
    until = run.clock()
    since = until - timedelta(days=config.window_days)
    agents = await prompt_store.agent_candidates(run.pool, since, until, config.agent_id)
    eligible = _eligible(agents, config)
    try:
        profile = profile_from_env(env)
        settings = load_settings(LLMSettings, env)
    except (LLMConfigError, ConfigError) as exc:
        raise CancelRunError(f"prompt_optimization: {exc}") from None
    if profile.provider == "extractive":
        raise CancelRunError(NO_CHAT_MODEL)
    async with aiohttp.ClientSession() as session:
        try:
            llm = create_llm(profile, session=session, settings=settings, env=env)
        except LLMConfigError as exc:
            raise CancelRunError(f"prompt_optimization: {exc}") from None
        optimizer = _Optimizer(run, llm, config, len(eligible))
        outcomes = [await optimizer.optimize(i, agent) for i, agent in enumerate(eligible)]
    await run.progress(100.0, "recorded")
    return {
        "window": {"since": since.isoformat(), "until": until.isoformat()},
        "agents_considered": len(agents),
        "eligible_agents": len(eligible),
        "proposals": sum(o["proposed_variant"] is not None for o in outcomes),
        "model": f"{llm.provider}:{llm.model}",
        "config": msgspec.to_builtins(config),
        "agents": outcomes,
    }


class _Optimizer:
    """One run's evaluation of each eligible agent with one chat model."""

    def __init__(
        self, run: RunContext, llm: LLMClient, config: PromptOptimizationConfig, agents: int
    ) -> None:
        self._run, self._llm, self._c, self._agents = run, llm, config, agents
        self._limit = asyncio.Semaphore(config.concurrency)

    async def _step(self, index: int, step: int, what: str) -> None:
        done = (index * _STEPS + step) / (self._agents * _STEPS)
        await self._run.progress(min(99.0, 100.0 * done), what)

    async def optimize(self, index: int, agent: AgentCandidate) -> dict[str, Any]:
        """Evaluate ``agent``'s variants, record the outcome, return its summary."""
        c, prompt = self._c, agent.system_prompt or ""
        examples = await prompt_store.approved_examples(self._run.pool, agent.id, c.max_examples)
        few_shot_pool, test = p.split_examples(examples, test_fraction=c.test_fraction, seed=c.seed)
        shots = few_shot_pool[: c.max_shots]
        label = f"agent {agent.name} ({index + 1}/{self._agents})"
        await self._step(index, 0, f"{label}: generating variants")
        variants = await self._variants(prompt, shots)
        baseline, scored = await self._evaluate(prompt, variants, test, index, label)
        chosen = p.choose_proposal(scored)
        reason = _reason(chosen, scored, c.confidence)
        record = OptimizationRecord(
            run_id=self._run.run_id, agent_id=agent.id, baseline_prompt=prompt,
            baseline_score=_mean(baseline), variants=[msgspec.to_builtins(s) for s in scored],
            proposed_variant=None if chosen is None else chosen.kind,
            proposed_prompt=None if chosen is None else chosen.prompt, reason=reason,
            pool_examples=len(few_shot_pool), test_examples=len(test),
            model=f"{self._llm.provider}:{self._llm.model}", config=msgspec.to_builtins(c),
        )  # fmt: skip
        await prompt_store.record_run(self._run.pool, record)
        log.info("prompt_optimization_agent", agent_id=agent.id, baseline=record.baseline_score,
                 proposed=record.proposed_variant, reason=reason)  # fmt: skip
        return _summary(agent, record, scored)

    async def _evaluate(
        self, prompt: str, variants: dict[p.VariantKind, tuple[str, str]],
        test: list[p.Example], index: int, label: str,
    ) -> tuple[list[float], list[p.VariantScore]]:  # fmt: skip
        """The baseline's per-example scores and each variant's score and interval."""
        c = self._c
        await self._step(index, 1, f"{label}: scoring baseline")
        baseline = await self._score(prompt, test)
        scored: list[p.VariantScore] = []
        for step, (kind, (text, source)) in enumerate(variants.items(), start=2):
            scores = await self._score(text, test)
            interval = p.paired_bootstrap(baseline, scores, resamples=c.resamples,
                                          confidence=c.confidence, seed=c.seed)  # fmt: skip
            scored.append(p.VariantScore(kind=kind, prompt=text, score=_mean(scores),
                                         improvement=interval, source=source))  # fmt: skip
            await self._step(index, step, f"{label}: scored {kind}")
        return baseline, scored

    async def _variants(
        self, prompt: str, shots: list[p.Example]
    ) -> dict[p.VariantKind, tuple[str, str]]:
        """Each variant's text and where it came from (``llm``, ``template``, ``examples``)."""
        out: dict[p.VariantKind, tuple[str, str]] = {}
        for kind in p.VARIANT_KINDS:
            if kind == "few_shot":
                out[kind] = (p.with_examples(prompt, shots), "examples")
                continue
            worded = await self._rewrite(kind, prompt)
            if worded is None:
                out[kind] = (p.template_variant(kind, prompt, shots), "template")
            else:
                text = p.with_examples(worded, shots) if kind == "combined" else worded
                out[kind] = (text, "llm")
        return out

    async def _rewrite(self, kind: p.VariantKind, prompt: str) -> str | None:
        if self._c.variant_source == "templates":
            return None
        request = ChatRequest(messages=p.rewrite_messages(kind, prompt), temperature=0.0)
        return p.clean_rewrite((await self._llm.complete(request)).text)

    async def _score(self, system_prompt: str, test: list[p.Example]) -> list[float]:
        """Token F1 of the model's answer to each held-out input under ``system_prompt``."""

        async def one(example: p.Example) -> float:
            request = ChatRequest(
                messages=[ChatMessage(role="system", content=system_prompt),
                          ChatMessage(role="user", content=example.input)],
                temperature=0.0, max_tokens=self._c.max_tokens,
            )  # fmt: skip
            async with self._limit:
                answer = await self._llm.complete(request)
            return p.token_f1(answer.text, example.expected_output)

        return list(await asyncio.gather(*(one(e) for e in test)))


def _summary(
    agent: AgentCandidate, record: OptimizationRecord, scored: list[p.VariantScore]
) -> dict[str, Any]:
    return {
        "agent_id": agent.id, "name": agent.name, "baseline_score": record.baseline_score,
        "proposed_variant": record.proposed_variant, "reason": record.reason,
        "test_examples": record.test_examples, "pool_examples": record.pool_examples,
        "variants": {s.kind: {"score": s.score, "improvement": s.improvement.mean,
                              "ci": [s.improvement.low, s.improvement.high],
                              "source": s.source} for s in scored},
    }  # fmt: skip


def _mean(scores: list[float]) -> float:
    return sum(scores) / len(scores) if scores else 0.0


def _reason(chosen: p.VariantScore | None, scored: list[p.VariantScore], level: float) -> str:
    def describe(s: p.VariantScore) -> str:
        i = s.improvement
        return f"{s.kind} {i.mean:+.3f} token F1 ({level:.0%} CI {i.low:+.3f} .. {i.high:+.3f})"

    if chosen is not None:
        return f"proposed {describe(chosen)}"
    best = max(scored, key=lambda s: (s.improvement.mean, s.improvement.low))
    return f"no variant's {level:.0%} CI of improvement is above 0; best was {describe(best)}"
