"""Splitting inputs into requests that respect a provider's count and token limits.

Token counts are estimated without a tokenizer (no downloads, no network):
``ceil(utf-8 bytes / 3)`` over-counts for every common tokenizer (English runs
near four bytes per token), so an estimated batch never exceeds the real cap.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["estimate_tokens", "split_batches"]


def estimate_tokens(text: str) -> int:
    """Return a conservative token estimate for ``text`` (at least 1)."""
    return max(1, -(-len(text.encode("utf-8")) // 3))


def split_batches(
    texts: Sequence[str], *, max_inputs: int, max_tokens: int | None = None
) -> list[Sequence[str]]:
    """Split ``texts`` in order into batches of at most ``max_inputs`` inputs and
    ``max_tokens`` estimated tokens.

    A single text over ``max_tokens`` travels alone; the provider decides what to
    do with it (truncate or refuse).
    """
    batches: list[Sequence[str]] = []
    start = 0
    tokens = 0
    for index, text in enumerate(texts):
        cost = estimate_tokens(text) if max_tokens is not None else 0
        full = index - start >= max_inputs
        over = max_tokens is not None and index > start and tokens + cost > max_tokens
        if full or over:
            batches.append(texts[start:index])
            start, tokens = index, 0
        tokens += cost
    if start < len(texts):
        batches.append(texts[start:])
    return batches
