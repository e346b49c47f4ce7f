"""Prompt optimization's pure parts: the split, the variants, the score and the bootstrap.

* :func:`split_examples` — approved examples → a few-shot pool and a held-out
  test set, shuffled with ``random.Random(seed)`` (the same examples and seed
  always give the same split).
* :data:`VARIANT_KINDS` and :func:`template_variant` — the four variants of a
  system prompt (seed 001): ``clarified``, ``few_shot``, ``restructured`` and
  ``combined``, from deterministic templates; :func:`rewrite_messages` is the
  request that asks a chat model for the ``clarified``/``restructured``/
  ``combined`` wording instead, and :func:`with_examples` appends the few-shot
  demonstrations (always the real approved examples, never invented ones).
* :func:`token_f1` — how an answer is scored against the expected output:
  SQuAD-style bag-of-tokens F1 (words folded to lower case without accents,
  ``\\w+`` tokens; both empty → 1, one empty → 0). Deterministic and cheap.
* :func:`paired_bootstrap` — the 95 % interval of a variant's mean per-example
  improvement over the baseline on the same held-out examples (numpy,
  ``default_rng(seed)``, percentile interval); a variant is proposed only when
  the whole interval is above 0 (:func:`choose_proposal`).
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Literal

import msgspec
import numpy as np

from neuralbridge.llm.chat import ChatMessage

__all__ = [
    "REWRITE_SYSTEM_PROMPT",
    "VARIANT_KINDS",
    "BootstrapInterval",
    "Example",
    "VariantKind",
    "VariantScore",
    "choose_proposal",
    "clean_rewrite",
    "paired_bootstrap",
    "rewrite_messages",
    "split_examples",
    "template_variant",
    "token_f1",
    "with_examples",
]

VariantKind = Literal["clarified", "few_shot", "restructured", "combined"]
VARIANT_KINDS: tuple[VariantKind, ...] = ("clarified", "few_shot", "restructured", "combined")

#: The instruction the chat model gets when it rewrites a system prompt.
REWRITE_SYSTEM_PROMPT = (
    "You improve system prompts for AI assistants. Reply with the rewritten system prompt "
    "only: no preamble, no commentary, no code fences. Keep every requirement of the original."
)
_GOALS: dict[VariantKind, str] = {
    "clarified": "Make it clearer and more specific: remove ambiguity, state the expected "
    "answer format and length, keep the same intent.",
    "restructured": "Restructure it into short sections (role, instructions as a bulleted "
    "list, output format) without changing what it asks.",
    "combined": "Make it clearer and more specific and restructure it into short sections "
    "(role, instructions as a bulleted list, output format).",
}
_CLARIFY = (
    "Answer the user's request directly and precisely. Use the same terms and format as the "
    "expected answers; do not add unrelated information. If the request is ambiguous, pick "
    "the most likely reading."
)
_MAX_PROMPT_CHARS = 16_000


class Example(msgspec.Struct, frozen=True, kw_only=True):
    """One approved learning example: an input and the output it should get."""

    id: str
    input: str
    expected_output: str


class BootstrapInterval(msgspec.Struct, frozen=True, kw_only=True):
    """The mean paired improvement and its percentile bootstrap interval."""

    mean: float
    low: float
    high: float
    resamples: int
    confidence: float


class VariantScore(msgspec.Struct, frozen=True, kw_only=True):
    """One variant's evaluation on the held-out set."""

    kind: VariantKind
    prompt: str
    score: float
    improvement: BootstrapInterval
    source: str


def split_examples(
    examples: Sequence[Example], *, test_fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Shuffle with ``random.Random(seed)``; return ``(few-shot pool, held-out test set)``.

    The test set gets ``round(n * test_fraction)`` examples, at least one, and the
    pool keeps at least one.

    Raises:
        ValueError: fewer than two examples, or a fraction outside (0, 1).
    """
    if len(examples) < 2:
        raise ValueError(f"need at least 2 examples to split, got {len(examples)}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    test_size = min(len(shuffled) - 1, max(1, round(len(shuffled) * test_fraction)))
    return shuffled[test_size:], shuffled[:test_size]


def with_examples(prompt: str, shots: Sequence[Example]) -> str:
    """``prompt`` followed by the few-shot demonstrations."""
    if not shots:
        return prompt
    demos = "\n\n".join(f"Input: {s.input}\nOutput: {s.expected_output}" for s in shots)
    return f"{prompt.rstrip()}\n\nExamples of good answers:\n\n{demos}"


def template_variant(kind: VariantKind, prompt: str, shots: Sequence[Example]) -> str:
    """The deterministic template of one variant (used when no chat model rewrites)."""
    base = prompt.strip()
    if kind == "clarified":
        return f"{base}\n\n{_CLARIFY}"
    if kind == "few_shot":
        return with_examples(base, shots)
    structured = _restructured(base)
    if kind == "restructured":
        return structured
    return with_examples(f"{structured}\n\n{_CLARIFY}", shots)


def _restructured(prompt: str) -> str:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", prompt) if s.strip()]
    role, rules = sentences[0], sentences[1:]
    lines = "\n".join(f"- {rule}" for rule in rules) or "- Follow the role above."
    return (
        f"## Role\n{role}\n\n## Instructions\n{lines}\n\n"
        "## Output\nOnly the answer, in the format the instructions ask for."
    )


def rewrite_messages(kind: VariantKind, prompt: str) -> list[ChatMessage]:
    """The chat request asking a model for the ``kind`` wording of ``prompt``.

    Raises:
        ValueError: ``few_shot`` (its demonstrations are appended, not rewritten).
    """
    if kind == "few_shot":
        raise ValueError("few_shot is not rewritten: its examples are appended")
    user = f"Goal: {_GOALS[kind]}\n\nSystem prompt to rewrite:\n<<<\n{prompt.strip()}\n>>>"
    return [
        ChatMessage(role="system", content=REWRITE_SYSTEM_PROMPT),
        ChatMessage(role="user", content=user),
    ]


def clean_rewrite(text: str) -> str | None:
    """The rewritten prompt from a model's answer (fences and markers removed); ``None``
    when nothing usable is left."""
    cleaned = re.sub(r"^```[\w-]*\n|\n?```$", "", text.strip()).strip()
    cleaned = cleaned.removeprefix("<<<").removesuffix(">>>").strip()
    return cleaned[:_MAX_PROMPT_CHARS] or None


def _tokens(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return re.findall(r"\w+", folded)


def token_f1(prediction: str, reference: str) -> float:
    """Bag-of-tokens F1 of ``prediction`` against ``reference`` (module docstring)."""
    predicted, expected = _tokens(prediction), _tokens(reference)
    if not predicted or not expected:
        return 1.0 if predicted == expected else 0.0
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def paired_bootstrap(
    baseline: Sequence[float], variant: Sequence[float], *, resamples: int = 2000,
    confidence: float = 0.95, seed: int = 0,
) -> BootstrapInterval:  # fmt: skip
    """Percentile bootstrap of the mean of ``variant[i] - baseline[i]``.

    The held-out examples are resampled with replacement ``resamples`` times
    (``numpy.random.default_rng(seed)``), the same draws for both scores, so
    the interval is of the paired difference.

    Raises:
        ValueError: lengths differ, no scores, fewer than 100 resamples, or a
            confidence outside (0, 1).
    """
    if len(baseline) != len(variant) or not baseline:
        raise ValueError(f"need equally many paired scores, got {len(baseline)} and {len(variant)}")
    if resamples < 100:
        raise ValueError(f"resamples must be at least 100, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    diffs = np.asarray(variant, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    draws = np.random.default_rng(seed).integers(0, len(diffs), size=(resamples, len(diffs)))
    means = diffs[draws].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return BootstrapInterval(
        mean=float(diffs.mean()), low=float(low), high=float(high), resamples=resamples,
        confidence=confidence,
    )  # fmt: skip


def choose_proposal(scores: Sequence[VariantScore]) -> VariantScore | None:
    """The variant to propose: its interval's low end above 0, then the largest mean
    improvement, then the largest low end, then the shorter prompt; ``None`` if none."""
    better = [s for s in scores if s.improvement.low > 0.0]
    if not better:
        return None
    return min(better, key=lambda s: (-s.improvement.mean, -s.improvement.low, len(s.prompt)))
