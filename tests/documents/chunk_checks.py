"""Invariants every chunking must satisfy, shared by the chunking tests."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from neuralbridge.documents import Chunk

__all__ = ["assert_valid_chunks", "overlaps"]

Measure = Callable[[str], int]
_WORD = re.compile(r"\S+")


def overlaps(chunks: list[Chunk]) -> list[tuple[int, int]]:
    """Character spans shared by consecutive chunks (empty spans when they do not touch)."""
    return [(nxt.start, max(nxt.start, prev.end)) for prev, nxt in itertools.pairwise(chunks)]


def assert_valid_chunks(
    text: str, chunks: list[Chunk], *, size: int, overlap: int, measure: Measure = len
) -> None:
    """Bounds, offsets, whole words, overlap limit, order and full coverage."""
    long_words = [m.span() for m in _WORD.finditer(text) if measure(m.group()) > size]
    starts = {m.start() for m in _WORD.finditer(text)}
    ends = {m.end() for m in _WORD.finditer(text)}

    def inside_long_word(offset: int) -> bool:
        return any(a < offset < b for a, b in long_words)

    for index, chunk in enumerate(chunks):
        assert chunk.index == index
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.text.strip() == chunk.text != ""
        assert measure(chunk.text) <= size
        assert chunk.start in starts or inside_long_word(chunk.start)
        assert chunk.end in ends or inside_long_word(chunk.end)
    for prev, nxt in itertools.pairwise(chunks):
        assert prev.start < nxt.start
        assert prev.end < nxt.end
        assert text[prev.end : nxt.start].strip() == ""  # no gap holds text
        if nxt.start < prev.end:
            assert measure(text[nxt.start : prev.end]) <= overlap
    covered = [False] * len(text)
    for chunk in chunks:
        covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
    assert all(covered[i] for i, char in enumerate(text) if not char.isspace())
