"""Sticky variant assignment: the same session always lands in the same variant.

``bucket = sha256("<experiment id>:<session id>")`` read as a number in
``[0, 1)`` (its first 8 bytes over 2⁶⁴), then walked along the cumulative
weights. SHA-256 (not Python's salted ``hash()``) makes the choice identical in
every process, replica and restart; salting with the experiment id makes the
assignments of two experiments independent of each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["assign_variant", "bucket_of"]

_SCALE = float(2**64)


def bucket_of(experiment_id: str, session_id: str) -> float:
    """The session's position in ``[0, 1)`` for this experiment."""
    digest = hashlib.sha256(f"{experiment_id}:{session_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def assign_variant(
    experiment_id: str, session_id: str, weights: Sequence[tuple[str, float]]
) -> str:
    """The name of the variant the session belongs to, ``weights`` as ``(name, weight)``.

    Raises:
        ValueError: no variants, or a weight that is not positive.
    """
    if not weights:
        raise ValueError("an experiment needs at least one variant")
    if any(weight <= 0 for _, weight in weights):
        raise ValueError("every variant weight must be positive")
    point = bucket_of(experiment_id, session_id) * sum(weight for _, weight in weights)
    cumulative = 0.0
    for name, weight in weights:
        cumulative += weight
        if point < cumulative:
            return name
    return weights[-1][0]  # rounding at the very top of the range
