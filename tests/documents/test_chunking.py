"""chunk_text(): bounded, sentence-aware, overlapping chunks that never cut a word."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuralbridge.documents import RegexTokenizer, chunk_text
from tests.documents.chunk_checks import assert_valid_chunks, overlaps
from tests.documents.texts import PORTUGUESE, PROSE, TEXTS

PROPERTIES = settings(max_examples=300, deadline=None, database=None)


@st.composite
def _limits(draw: st.DrawFn, *, min_size: int = 8, max_size: int = 200) -> tuple[int, int]:
    size = draw(st.integers(min_size, max_size))
    return size, draw(st.integers(0, size - 1))


@PROPERTIES
@given(text=TEXTS, limits=_limits())
def test_chunk_text_any_text_satisfies_invariants(text: str, limits: tuple[int, int]) -> None:
    """Size bound, exact offsets, whole words, overlap limit and full coverage always hold."""
    size, overlap = limits
    chunks = chunk_text(text, size=size, overlap=overlap)
    assert_valid_chunks(text, chunks, size=size, overlap=overlap)
    assert chunk_text(text, size=size, overlap=overlap) == chunks


@PROPERTIES
@given(text=PROSE, size=st.integers(45, 200), overlap=st.integers(15, 40))
def test_chunk_text_short_words_overlap_between_one_and_requested(
    text: str, size: int, overlap: int
) -> None:
    """When words are shorter than the overlap, consecutive chunks share 1..overlap chars."""
    chunks = chunk_text(text, size=size, overlap=overlap)
    assert all(1 <= end - start <= overlap for start, end in overlaps(chunks))


@PROPERTIES
@given(text=TEXTS, limits=_limits(min_size=3, max_size=60))
def test_chunk_text_token_unit_keeps_token_bound(text: str, limits: tuple[int, int]) -> None:
    """Counted in RegexTokenizer tokens, every invariant holds in tokens."""
    size, overlap = limits
    tokenizer = RegexTokenizer()
    chunks = chunk_text(text, size=size, overlap=overlap, unit="tokens", tokenizer=tokenizer)
    assert_valid_chunks(text, chunks, size=size, overlap=overlap, measure=tokenizer.count)


def test_chunk_text_seed_defaults_give_512_char_chunks_with_50_overlap() -> None:
    """The defaults are the training pipeline's 512 characters with 50 of overlap."""
    text = PORTUGUESE * 30
    chunks = chunk_text(text)
    assert_valid_chunks(text, chunks, size=512, overlap=50)
    assert len(chunks) > 10
    assert all(256 <= len(chunk.text) <= 512 for chunk in chunks[:-1])
    assert all(1 <= end - start <= 50 for start, end in overlaps(chunks))


def test_chunk_text_portuguese_prose_ends_chunks_at_sentences_not_abbreviations() -> None:
    """Chunks end at sentence ends, never after Dr., Sra., e.g., art., aprox. or Av."""
    text = PORTUGUESE * 12
    chunks = chunk_text(text, size=200, overlap=40)
    assert_valid_chunks(text, chunks, size=200, overlap=40)
    for chunk in chunks[:-1]:
        assert re.search(r"[.!?;…]$", chunk.text), chunk.text
        assert not re.search(r"\b(Dr|Sra|e\.g|art|aprox|Av|Prof|etc)\.$", chunk.text), chunk.text


def test_chunk_text_word_longer_than_size_is_hard_split() -> None:
    """Only a word longer than size is cut, into pieces that fit, and nothing is lost."""
    text = "antes " + "x" * 1200 + " depois"
    chunks = chunk_text(text, size=512, overlap=50)
    assert [chunk.text for chunk in chunks] == [
        "antes",
        "x" * 512,
        "x" * 512,
        "x" * 176 + " depois",
    ]


def test_chunk_text_overlap_zero_gives_disjoint_chunks() -> None:
    """overlap=0 makes consecutive chunks share nothing."""
    text = PORTUGUESE * 5
    chunks = chunk_text(text, size=100, overlap=0)
    assert all(prev.end <= nxt.start for prev, nxt in itertools.pairwise(chunks))
    assert_valid_chunks(text, chunks, size=100, overlap=0)


def test_chunk_text_text_within_size_is_one_stripped_chunk() -> None:
    """A short text is a single chunk without its surrounding whitespace."""
    chunks = chunk_text("\n  Olá, mundo.  \n", size=512, overlap=50)
    assert [(chunk.text, chunk.start, chunk.end) for chunk in chunks] == [("Olá, mundo.", 3, 14)]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t "])
def test_chunk_text_blank_text_gives_no_chunks(text: str) -> None:
    """Nothing to chunk gives no chunks (never an empty one)."""
    assert chunk_text(text) == []


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"size": 0, "overlap": 0}, "size"),
        ({"size": 100, "overlap": 100}, "overlap"),
        ({"size": 100, "overlap": -1}, "overlap"),
        ({"unit": "words"}, "unit"),
        ({"unit": "chars", "tokenizer": RegexTokenizer()}, "tokenizer"),
    ],
)
def test_chunk_text_invalid_arguments_raise_value_error_naming_them(
    kwargs: dict[str, object], argument: str
) -> None:
    """Bad size, overlap, unit or tokenizer raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=rf"^{argument}\b"):
        chunk_text("some text", **kwargs)  # type: ignore[arg-type]
