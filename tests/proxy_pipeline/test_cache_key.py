"""Which part of a conversation a question's cache key holds (``conversation_for_key``)."""

from __future__ import annotations

from neuralbridge.llm import ChatMessage
from neuralbridge.proxy_pipeline.cache import conversation_for_key


def turn(question: str, answer: str) -> list[ChatMessage]:
    return [
        ChatMessage(role="user", content=question),
        ChatMessage(role="assistant", content=answer),
    ]


def test_a_new_question_keys_on_the_whole_conversation() -> None:
    history = turn("Tell me about Acme.", "A rocket maker.")
    assert conversation_for_key("Who founded it?", history) == history


def test_a_repeated_question_keys_on_the_conversation_before_it_was_first_asked() -> None:
    """Matched like cache keys match (case and spaces folded), on the user's side only."""
    history = [
        *turn("Tell me about Acme.", "A rocket maker."),
        *turn("Who founded it?", "Jane Roe."),
        *turn("Who founded it?", "Jane Roe, in 1999."),
    ]
    assert conversation_for_key("  who FOUNDED it? ", history) == history[:2]
    assert conversation_for_key("tell me about acme.", history) == []


def test_an_answer_with_the_same_words_is_not_a_repeat() -> None:
    history = turn("What do you say to hello?", "Hello?")
    assert conversation_for_key("Hello?", history) == history
