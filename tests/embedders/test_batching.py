"""Splitting inputs by count and by estimated tokens."""

from __future__ import annotations

from neuralbridge.embedders.batching import estimate_tokens, split_batches


def test_estimate_tokens_counts_utf8_bytes_over_three() -> None:
    """The estimate is ceil(utf-8 bytes / 3), at least 1."""
    assert estimate_tokens("") == 1
    assert estimate_tokens("abcd") == 2
    assert estimate_tokens("é" * 3) == 2


def test_split_batches_by_count_keeps_order() -> None:
    """Batches hold at most max_inputs texts and concatenate back to the input."""
    texts = [str(i) for i in range(7)]

    batches = split_batches(texts, max_inputs=3)

    assert [list(b) for b in batches] == [["0", "1", "2"], ["3", "4", "5"], ["6"]]


def test_split_batches_by_tokens_sends_oversized_text_alone() -> None:
    """A text over the token cap travels alone; others fill up to the cap."""
    texts = ["a" * 30, "b" * 300, "c" * 30, "d" * 30]

    batches = split_batches(texts, max_inputs=10, max_tokens=25)

    assert [len(b) for b in batches] == [1, 1, 2]


def test_split_batches_empty_returns_no_batches() -> None:
    """No texts, no requests."""
    assert split_batches([], max_inputs=5, max_tokens=10) == []
