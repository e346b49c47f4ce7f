"""Prompt optimization's pure parts: paired bootstrap, proposal rule, token F1, split, variants."""

from __future__ import annotations

import random

import pytest

from neuralbridge.learning.prompts import (
    VARIANT_KINDS,
    BootstrapInterval,
    Example,
    VariantScore,
    choose_proposal,
    clean_rewrite,
    paired_bootstrap,
    rewrite_messages,
    split_examples,
    template_variant,
    token_f1,
)


def _noisy(n: int, seed: int, shift: float) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    baseline = [rng.uniform(0.2, 0.6) for _ in range(n)]
    return baseline, [min(1.0, b + shift + rng.uniform(-0.05, 0.05)) for b in baseline]


def _examples(n: int) -> list[Example]:
    return [Example(id=f"e{i}", input=f"question {i}", expected_output=f"answer {i}")
            for i in range(n)]  # fmt: skip


def _score(kind: str, mean: float, low: float, prompt: str = "p") -> VariantScore:
    interval = BootstrapInterval(mean=mean, low=low, high=mean + 0.1, resamples=2000,
                                 confidence=0.95)  # fmt: skip
    return VariantScore(kind=kind, prompt=prompt, score=0.5, improvement=interval,  # type: ignore[arg-type]
                        source="template")  # fmt: skip


def test_bootstrap_clearly_better_variant_has_interval_above_zero() -> None:
    """A variant better on every example by ~0.3 gets a 95 % interval entirely above 0."""
    baseline, variant = _noisy(20, seed=1, shift=0.3)
    interval = paired_bootstrap(baseline, variant, resamples=2000, seed=7)
    assert interval.low > 0.2
    assert interval.low <= interval.mean <= interval.high


def test_bootstrap_equal_variant_interval_is_not_above_zero() -> None:
    """Identical scores give the interval [0, 0], which is not above 0."""
    baseline, _ = _noisy(20, seed=2, shift=0.0)
    interval = paired_bootstrap(baseline, list(baseline), resamples=2000, seed=7)
    assert (interval.mean, interval.low, interval.high) == (0.0, 0.0, 0.0)


def test_bootstrap_noise_only_variant_interval_contains_zero() -> None:
    """Differences that are pure symmetric noise give an interval that straddles 0."""
    baseline = [0.5] * 30
    variant = [0.5 + (0.2 if i % 2 else -0.2) for i in range(30)]
    interval = paired_bootstrap(baseline, variant, resamples=2000, seed=3)
    assert interval.low < 0.0 < interval.high


def test_bootstrap_same_seed_same_interval_other_seed_differs() -> None:
    """The interval is a function of the seed: reproducible, and not a constant."""
    baseline, variant = _noisy(15, seed=4, shift=0.05)
    first = paired_bootstrap(baseline, variant, seed=11)
    assert paired_bootstrap(baseline, variant, seed=11) == first
    assert paired_bootstrap(baseline, variant, seed=12) != first


@pytest.mark.parametrize(
    ("baseline", "variant", "options", "message"),
    [
        ([0.1, 0.2], [0.1], {}, "equally many"),
        ([], [], {}, "equally many"),
        ([0.1], [0.2], {"resamples": 10}, "resamples"),
        ([0.1], [0.2], {"confidence": 1.0}, "confidence"),
    ],
)
def test_bootstrap_bad_input_is_refused_with_reason(
    baseline: list[float], variant: list[float], options: dict[str, float], message: str
) -> None:
    """Unpaired scores, too few resamples or a bad confidence raise naming the problem."""
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(baseline, variant, **options)  # type: ignore[arg-type]


def test_choose_proposal_needs_interval_above_zero_then_largest_gain() -> None:
    """Only intervals above 0 qualify; the largest mean gain wins, ties go to the shorter prompt."""
    assert choose_proposal([_score("clarified", 0.2, 0.0), _score("few_shot", 0.1, -0.1)]) is None
    chosen = choose_proposal([
        _score("clarified", 0.1, 0.05), _score("few_shot", 0.4, 0.3, "long prompt"),
        _score("combined", 0.4, 0.3, "longer prompt"),
    ])  # fmt: skip
    assert chosen is not None
    assert chosen.kind == "few_shot"


def test_token_f1_scores_overlap_folding_case_and_accents() -> None:
    """Token F1: exact 1, disjoint 0, partial in between; case and accents ignored."""
    assert token_f1("The capital is Paris.", "the capital is paris") == 1.0
    assert token_f1("Informação", "informacao") == 1.0
    assert token_f1("I am not sure", "The capital is Paris") == 0.0
    assert token_f1("Paris", "The capital is Paris") == pytest.approx(2 * 1 * 0.25 / 1.25)
    assert token_f1("", "") == 1.0
    assert token_f1("", "Paris") == 0.0


def test_split_is_seeded_disjoint_and_sized_by_fraction() -> None:
    """The same seed gives the same split; pool and test set partition the examples."""
    examples = _examples(12)
    pool, test = split_examples(examples, test_fraction=0.5, seed=5)
    assert (len(pool), len(test)) == (6, 6)
    assert split_examples(examples, test_fraction=0.5, seed=5) == (pool, test)
    assert {e.id for e in pool} | {e.id for e in test} == {e.id for e in examples}
    assert not {e.id for e in pool} & {e.id for e in test}
    assert split_examples(examples, test_fraction=0.5, seed=6) != (pool, test)
    with pytest.raises(ValueError, match="at least 2"):
        split_examples(examples[:1], test_fraction=0.5, seed=0)


def test_template_variants_differ_and_few_shot_ones_carry_the_examples() -> None:
    """Each template differs from the prompt; few_shot and combined include the shots."""
    prompt = "You are a support agent. Answer billing questions. Be brief."
    shots = _examples(2)
    texts = {kind: template_variant(kind, prompt, shots) for kind in VARIANT_KINDS}
    assert all(text != prompt for text in texts.values())
    assert "question 1" in texts["few_shot"]
    assert "answer 1" in texts["combined"]
    assert "question 1" not in texts["clarified"] + texts["restructured"]
    assert "- Answer billing questions." in texts["restructured"]


def test_rewrite_request_quotes_prompt_and_answer_is_cleaned() -> None:
    """The rewrite request quotes the prompt; fences are stripped; few_shot is never rewritten."""
    messages = rewrite_messages("clarified", "Be nice.")
    assert messages[0].role == "system"
    assert "<<<\nBe nice.\n>>>" in messages[1].content
    assert clean_rewrite("```text\nBe nice and brief.\n```") == "Be nice and brief."
    assert clean_rewrite("   ") is None
    with pytest.raises(ValueError, match="few_shot"):
        rewrite_messages("few_shot", "Be nice.")
