"""check_output(): empty answers, refusals in English and Portuguese, grounding, PII."""

from __future__ import annotations

import pytest

from neuralbridge.guardrails import PiiKind, check_output, grounding_score

SOURCES = [
    "O prazo para declarar o imposto de renda de 2026 termina em 29 de maio. "
    "A multa mínima por atraso é de R$ 165,74.",
    "Refunds are processed within 14 business days after the returned item arrives "
    "at our warehouse in Campinas.",
]


@pytest.mark.parametrize("answer", ["", "   \n\t", "\u200b\u200b"])
def test_check_output_blank_answer_reports_empty(answer: str) -> None:
    """Whitespace-only and invisible-only answers are empty and not refusals."""
    verdict = check_output(answer, sources=SOURCES)
    assert verdict.empty
    assert not verdict.refusal
    assert verdict.grounding == 0.0


@pytest.mark.parametrize(
    "answer",
    [
        "I can't help with that request.",
        "I\u2019m sorry, but I cannot share that information.",
        "As an AI language model, I don't have opinions.",
        "I'm unable to provide medical advice.",
        "Não posso ajudar com esse pedido.",
        "Desculpe, mas não posso responder a isso.",
        "Sinto muito, mas não consigo fazer isso.",
        "Como uma IA, não tenho acesso à internet.",
    ],
)
def test_check_output_refusal_phrasing_reports_refusal(answer: str) -> None:
    """English and Portuguese refusals are recognised."""
    assert check_output(answer, sources=[]).refusal


@pytest.mark.parametrize(
    "answer",
    [
        "The refund takes up to 14 business days.",
        "Posso ajudar, sim: o prazo termina em 29 de maio.",
        "Here is the summary. " + "Details follow. " * 40 + "Note: I can't help with taxes.",
    ],
)
def test_check_output_normal_answer_reports_no_refusal(answer: str) -> None:
    """Ordinary answers, and refusal phrases deep inside a long answer, are not refusals."""
    assert not check_output(answer, sources=[]).refusal


def test_check_output_answer_copied_from_sources_gives_high_grounding() -> None:
    """An answer made of sentences from the sources grounds at 1.0."""
    answer = (
        "A multa mínima por atraso é de R$ 165,74. Refunds are processed within 14 business days."
    )
    assert check_output(answer, sources=SOURCES).grounding == 1.0


def test_check_output_unrelated_answer_gives_low_grounding() -> None:
    """An answer about something else grounds below 0.2."""
    answer = "Photosynthesis turns sunlight into chemical energy inside chloroplasts."
    assert check_output(answer, sources=SOURCES).grounding < 0.2


def test_grounding_score_paraphrase_ranks_between_copy_and_unrelated() -> None:
    """A paraphrase reusing some source words scores between the two extremes."""
    paraphrase = "Your refund arrives about 14 days after the warehouse receives the item."
    score = grounding_score(paraphrase, SOURCES)
    assert 0.2 < score < 1.0


def test_grounding_score_no_sources_gives_zero() -> None:
    """Without sources nothing can be grounded."""
    assert grounding_score("The refund takes 14 business days.", []) == 0.0


def test_grounding_score_same_input_gives_same_score() -> None:
    """The score is deterministic."""
    answer = "Refunds take 14 days; a multa é de R$ 165,74."
    assert grounding_score(answer, SOURCES) == grounding_score(answer, list(SOURCES))


def test_check_output_answer_with_pii_reports_findings() -> None:
    """PII in the answer is reported so it can be redacted before caching."""
    verdict = check_output("Contact ana@exemplo.com.br for details.", sources=SOURCES)
    assert [finding.kind for finding in verdict.findings] == [PiiKind.EMAIL]
