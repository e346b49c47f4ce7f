"""Seed 001's hourly ``ab_test_analysis``: look at every running experiment, conclude when sure.

For each running experiment (:mod:`neuralbridge.trainer.experiments`) the job
gathers each variant's answers since the start (sessions, answers, rated
answers, positive ones, mean score, mean latency), then:

1. **Sample-ratio mismatch** — distinct sessions per variant against the
   weights (chi-square, flagged at p < 0.001). Flagged: the assignment is
   broken, so no decision is taken; the reason is recorded.
2. **Positive rate** (score ≥ 4 among rated answers), the primary metric:
   the normal-mixture SPRT of :mod:`neuralbridge.learning.ab` updates the
   experiment's running always-valid p-value. The experiment concludes, with
   the variant of the higher positive rate as winner, once that p-value is
   ``<= alpha = 1 - AB_TEST_SIGNIFICANCE_LEVEL`` and every arm has at least
   ``AB_TEST_MIN_SAMPLE_SIZE`` rated answers; hourly looks do not inflate the
   false-positive rate.
3. For reading only (fixed-horizon, not valid under repeated looks): the
   two-proportion z-test of the positive rates, Welch t-tests of the mean score
   and the mean latency.

Answers are treated as independent although sessions are the unit of
assignment; sessions with very many answers make the tests optimistic.
The new state is stored and mirrored to the ``ab_experiments`` KV bucket, so a
concluded experiment stops being applied by the proxy pipeline at once.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import structlog

from neuralbridge.learning.ab import (
    DEFAULT_TAU,
    SampleRatio,
    msprt_log_likelihood_ratio,
    sample_ratio_mismatch,
    two_proportion_ztest,
    update_always_valid_p,
    welch_ttest,
)
from neuralbridge.messages.experiments import ArmStats, Experiment, ExperimentAnalysis
from neuralbridge.trainer import experiments
from neuralbridge.trainer.experiment_requests import mirror_experiment
from neuralbridge.trainer.runs import RunContext

__all__ = ["analyse_experiment", "decide", "run_ab_analysis"]

log = structlog.get_logger()

Decision = tuple[Literal["concluded", "continue", "srm"], str | None, str]


def decide(arms: list[ArmStats], always_valid_p: float, srm: SampleRatio, *, alpha: float,
           min_samples: int) -> Decision:  # fmt: skip
    """``(decision, winner, reason)`` from one look (see the module docstring)."""
    p = f"always-valid p={always_valid_p:.4g}"
    if srm.flagged:
        observed = {a.variant: a.sessions for a in arms}
        expected = [round(e, 1) for e in srm.expected]
        return ("srm", None, f"sample ratio mismatch: sessions {observed}, expected {expected} "
                f"(chi-square p={srm.p_value:.3g} < 0.001); no decision")  # fmt: skip
    if always_valid_p > alpha:
        return "continue", None, f"not significant yet: {p} > alpha={alpha:.4g}"
    short = {a.variant: a.rated for a in arms if a.rated < min_samples}
    if short:
        return ("continue", None, f"significant ({p}) but waiting for {min_samples} rated "
                f"answers per variant, have {short}")  # fmt: skip
    best, other = sorted(arms, key=lambda a: a.positive_rate, reverse=True)
    if best.positive_rate == other.positive_rate:  # significant at an earlier look only
        return "continue", None, f"{p} but the positive rates are now equal"
    rates = f"{best.positive_rate:.4f} vs {other.positive_rate:.4f}"
    reason = f"{best.variant} has the higher positive rate ({rates}); {p} <= alpha={alpha:.4g}"
    return "concluded", best.variant, reason


def analyse_experiment(
    experiment: Experiment, arms: list[ArmStats], *, analysed_at: str, alpha: float,
    min_samples: int, tau: float = DEFAULT_TAU,
) -> ExperimentAnalysis:  # fmt: skip
    """One look at a two-variant experiment (the first variant is the control, A)."""
    a, b = arms
    z = two_proportion_ztest(a.positive, a.rated, b.positive, b.rated)
    score = welch_ttest((a.score_mean, a.score_sd, a.rated), (b.score_mean, b.score_sd, b.rated))
    latency = welch_ttest(
        (a.latency_ms_mean, a.latency_ms_sd, a.assigned),
        (b.latency_ms_mean, b.latency_ms_sd, b.assigned),
    )
    srm = sample_ratio_mismatch([a.sessions, b.sessions], [v.weight for v in experiment.variants])
    llr = float(msprt_log_likelihood_ratio(a.positive, a.rated, b.positive, b.rated, tau=tau))
    p_value = update_always_valid_p(experiment.always_valid_p, llr)
    decision, winner, reason = decide(arms, p_value, srm, alpha=alpha, min_samples=min_samples)
    return ExperimentAnalysis(
        experiment_id=experiment.id, analysed_at=analysed_at, arms=arms,
        difference=z.difference, positive_rate_z=z.statistic, positive_rate_p=z.p_value,
        score_p=score.p_value if score else None, latency_p=latency.p_value if latency else None,
        log_likelihood_ratio=llr, always_valid_p=p_value, srm_p=srm.p_value,
        srm_flagged=srm.flagged, decision=decision, winner=winner, reason=reason,
    )  # fmt: skip


async def run_ab_analysis(run: RunContext) -> dict[str, Any]:
    """The ``ab_test_analysis`` job."""
    s = run.settings
    alpha = round(1.0 - s.ab_test_significance_level, 12)
    running = await experiments.running_experiments(run.pool)
    results: dict[str, Any] = {
        "alpha": alpha, "min_sample_size": s.ab_test_min_sample_size, "experiments": {},
    }  # fmt: skip
    await run.progress(5.0, f"{len(running)} running experiments")
    for done, experiment in enumerate(running, start=1):
        now = run.clock()
        arms = await experiments.arm_stats(run.pool, experiment, now)
        analysis = analyse_experiment(
            experiment, arms, analysed_at=now.isoformat(), alpha=alpha,
            min_samples=s.ab_test_min_sample_size,
        )  # fmt: skip
        updated = await experiments.record_analysis(run.pool, analysis, now)
        await mirror_experiment(run.bus, updated)
        results["experiments"][experiment.id] = msgspec.to_builtins(analysis)
        log.info("ab_experiment_analysed", experiment=experiment.id, decision=analysis.decision,
                 winner=analysis.winner, always_valid_p=round(analysis.always_valid_p, 6),
                 rated={a.variant: a.rated for a in arms})  # fmt: skip
        await run.progress(5.0 + 95.0 * done / len(running), f"analysed {experiment.id}")
    results["concluded"] = sorted(
        eid for eid, a in results["experiments"].items() if a["decision"] == "concluded"
    )
    return results
