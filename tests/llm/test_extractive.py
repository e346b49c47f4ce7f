"""The offline extractive provider: quotes the best passage sentences, or refuses politely."""

from __future__ import annotations

import pytest

from neuralbridge.llm import (
    ChatMessage,
    ChatRequest,
    LLMClient,
    StreamEvent,
    format_passage,
    read_prompt,
)
from neuralbridge.llm.extractive import NOT_FOUND, word_chunks
from tests.llm.conftest import MakeLLM, ask, collect, done, texts

_SOURCES = {
    1: "Acme Corporation was founded in 1990 by Jane Doe in Porto. "
    "It builds reusable rockets for small satellites.",
    2: "The Acme headquarters moved to Lisbon in 2015.\n\nAbout 400 people work there.",
    3: "Venture capital funds invested heavily in space startups.",
    4: "A Acme oferece suporte técnico 24 horas por dia. "
    "O suporte é gratuito para clientes empresariais.",
}
_PASSAGES = "\n".join(
    ["Answer only from the passages below and cite them."]
    + [format_passage(number, text) for number, text in _SOURCES.items()]
)


@pytest.fixture
def llm(make_llm: MakeLLM) -> LLMClient:
    """An extractive client (no server, no key)."""
    return make_llm(provider="extractive", model="extractive", env={})


async def test_complete_extractive_answers_with_best_sentence_and_citation(llm: LLMClient) -> None:
    """The sentence that answers the question is quoted with its [source N]."""
    result = await llm.complete(ask("Who founded Acme?", system=_PASSAGES))

    assert result.text == "Acme Corporation was founded in 1990 by Jane Doe in Porto. [source 1]"
    assert (result.provider, result.model, result.finish_reason) == (
        "extractive",
        "extractive",
        "stop",
    )


async def test_complete_extractive_reads_passages_and_label_from_user_message(
    llm: LLMClient,
) -> None:
    """Passages may sit in the user message too; a 'Question:' label is ignored."""
    prompt = f"{_PASSAGES}\n\nQuestion: How many people work at the headquarters?"

    result = await llm.complete(ask(prompt))

    assert result.text == "About 400 people work there. [source 2]"


async def test_complete_extractive_portuguese_question_quotes_up_to_three_sentences(
    llm: LLMClient,
) -> None:
    """A Portuguese question matches Portuguese passages (accents folded), several sentences."""
    result = await llm.complete(ask("O suporte técnico da Acme é gratuito?", system=_PASSAGES))

    assert result.text == (
        "A Acme oferece suporte técnico 24 horas por dia. [source 4] "
        "O suporte é gratuito para clientes empresariais. [source 4]"
    )


async def test_complete_extractive_unrelated_question_refuses_in_english(llm: LLMClient) -> None:
    """Sharing one word ('capital') is not enough: the answer is the polite refusal."""
    result = await llm.complete(ask("What is the capital of France?", system=_PASSAGES))

    assert result.text == "I could not find this in the knowledge base."


async def test_complete_extractive_unrelated_question_refuses_in_portuguese(
    llm: LLMClient,
) -> None:
    """A Portuguese question gets the Portuguese refusal."""
    result = await llm.complete(ask("Qual é a capital da França?", system=_PASSAGES))

    assert result.text == NOT_FOUND["pt"]


async def test_complete_extractive_without_passages_refuses(llm: LLMClient) -> None:
    """No passages at all: nothing to quote, so the refusal."""
    result = await llm.complete(ask("Who founded Acme?"))

    assert result.text == NOT_FOUND["en"]


async def test_complete_extractive_same_input_same_answer(llm: LLMClient) -> None:
    """Deterministic: repeated calls (and a rebuilt client) give identical results."""
    request = ask("Where are the Acme headquarters?", system=_PASSAGES)

    results = {await llm.complete(request) for _ in range(3)}

    assert len({r.text for r in results}) == 1


async def test_stream_extractive_yields_word_chunks_joining_to_the_answer(llm: LLMClient) -> None:
    """Streaming yields the complete() answer word by word, then one Done."""
    request = ask("What rockets does Acme build?", system=_PASSAGES)
    events: list[StreamEvent] = []

    await collect(llm.stream(request), events)

    expected = await llm.complete(request)
    assert texts(events) == word_chunks(expected.text)
    assert len(texts(events)) > 3
    assert done(events).result == expected


async def test_complete_extractive_max_tokens_truncates_words(llm: LLMClient) -> None:
    """max_tokens caps the answer in words and reports finish_reason 'length'."""
    result = await llm.complete(ask("Who founded Acme?", system=_PASSAGES, max_tokens=3))

    assert result.text == "Acme Corporation was"
    assert (result.finish_reason, result.completion_tokens) == ("length", 3)


def test_read_prompt_splits_passages_at_markers_and_blank_lines() -> None:
    """Each [source N] runs to the next marker or blank line; the rest of the user turn asks."""
    messages = [
        ChatMessage(role="system", content="[source 7] first\ncontinued\n\nInstructions."),
        ChatMessage(role="assistant", content="[source 9] ignored"),
        ChatMessage(role="user", content="[source 8] second\nPergunta: o que é?"),
    ]

    passages, question = read_prompt(ChatRequest(messages=messages).messages)

    assert [(p.source, p.text) for p in passages] == [
        (7, "first\ncontinued"),
        (8, "second\nPergunta: o que é?"),
    ]
    assert question == ""
