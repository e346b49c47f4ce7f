"""ab_test_analysis's decision rule on one look, without servers."""

from __future__ import annotations

import msgspec

from neuralbridge.messages.experiments import ArmStats, Experiment, Variant
from neuralbridge.trainer.ab_analysis import analyse_experiment

EXPERIMENT = Experiment(
    id="e1", name="n", kind="provider", status="running", started_at="2026-11-23T00:00:00+00:00",
    variants=[Variant(name="control"), Variant(name="mini", model="m")],
)  # fmt: skip


def _arm(variant: str, rated: int, positive: int, sessions: int | None = None) -> ArmStats:
    return ArmStats(
        variant=variant, sessions=sessions or rated, assigned=rated, rated=rated,
        positive=positive, positive_rate=positive / rated, score_mean=3.0, score_sd=1.0,
        latency_ms_mean=100.0, latency_ms_sd=10.0,
    )  # fmt: skip


def _look(arms: list[ArmStats], stored_p: float = 1.0, min_samples: int = 100) -> dict[str, object]:
    experiment = msgspec.structs.replace(EXPERIMENT, always_valid_p=stored_p)
    analysis = analyse_experiment(experiment, arms, analysed_at="t", alpha=0.05,
                                  min_samples=min_samples)  # fmt: skip
    return {"decision": analysis.decision, "winner": analysis.winner, "p": analysis.always_valid_p}


def test_earlier_significance_is_kept_by_the_running_p_value() -> None:
    """A look with little evidence keeps the stored p of 0.01, so the experiment concludes."""
    look = _look([_arm("control", 200, 100), _arm("mini", 200, 104)], stored_p=0.01)
    assert look == {"decision": "concluded", "winner": "mini", "p": 0.01}


def test_weak_evidence_without_history_continues() -> None:
    """The same data from a fresh experiment is not significant."""
    look = _look([_arm("control", 200, 100), _arm("mini", 200, 104)])
    assert look["decision"] == "continue"
    assert isinstance(look["p"], float)
    assert look["p"] > 0.05


def test_control_wins_when_the_treatment_is_worse() -> None:
    """0.60 vs 0.40 positive over 400 rated answers each: control is the winner."""
    look = _look([_arm("control", 400, 240), _arm("mini", 400, 160)])
    assert (look["decision"], look["winner"]) == ("concluded", "control")


def test_equal_rates_do_not_conclude_even_with_a_significant_history() -> None:
    """A stored p below alpha but equal rates now: no winner to name."""
    look = _look([_arm("control", 200, 100), _arm("mini", 200, 100)], stored_p=0.001)
    assert (look["decision"], look["winner"]) == ("continue", None)


def test_sample_ratio_mismatch_beats_significance() -> None:
    """A strong effect with 600 vs 400 sessions on equal weights is not concluded."""
    arms = [_arm("control", 400, 240, sessions=600), _arm("mini", 400, 160, sessions=400)]
    assert _look(arms)["decision"] == "srm"
