"""The distillation dataset: teacher rows → redacted, normalized, de-duplicated samples, split.

PII is redacted again (:func:`neuralbridge.guardrails.redact`: the proxy already
redacts, but a detector may have improved since), the query normalized
(:func:`neuralbridge.learning.memory.normalize_text`), rows with an empty query
or answer dropped, and a repeated query keeps its first (newest) answer. The
split orders by request id and shuffles with a fixed seed, so it depends only
on the samples and the seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from neuralbridge.guardrails import redact
from neuralbridge.learning.memory import MemoryEntry, normalize_text
from neuralbridge.trainer.distillation_store import TeacherRow

__all__ = ["TeacherSet", "prepare_samples", "split_samples"]


@dataclass(frozen=True, slots=True)
class TeacherSet:
    """The usable teacher samples (newest first) and what was dropped."""

    samples: list[MemoryEntry]
    selected: int
    duplicates: int
    empty: int
    pii_redactions: int

    def counts(self) -> dict[str, int]:
        """The counts, for results and error messages."""
        return {
            "selected": self.selected, "usable": len(self.samples),
            "duplicates": self.duplicates, "empty": self.empty,
            "pii_redactions": self.pii_redactions,
        }  # fmt: skip


def prepare_samples(rows: Sequence[TeacherRow]) -> TeacherSet:
    """Redact, normalize the query, drop empty ones and repeated queries (first kept)."""
    samples: list[MemoryEntry] = []
    seen: set[str] = set()
    duplicates = empty = redactions = 0
    for row in rows:
        query, answer = redact(row.query), redact(row.answer)
        redactions += len(query.findings) + len(answer.findings)
        normalized, text = normalize_text(query.text), answer.text.strip()
        if not normalized or not text:
            empty += 1
            continue
        if normalized in seen:
            duplicates += 1
            continue
        seen.add(normalized)
        samples.append(
            MemoryEntry(
                request_id=row.request_id,
                query=normalized,
                answer=text,
                sources=row.sources,
                confidence=row.confidence,
            )
        )
    return TeacherSet(samples, len(rows), duplicates, empty, redactions)


def split_samples(
    samples: Sequence[MemoryEntry], holdout_fraction: float, *, seed: int
) -> tuple[list[MemoryEntry], list[MemoryEntry]]:
    """Train and held-out parts: ``round(n * fraction)`` held out (at least 1, at most n-1).

    The shuffle starts from request-id order, so the split depends only on the
    samples and the seed; the train part keeps the input order (newest first).
    """
    ordered = sorted(samples, key=lambda s: s.request_id)
    random.Random(seed).shuffle(ordered)
    size = min(len(ordered) - 1, max(1, round(len(ordered) * holdout_fraction)))
    held = {s.request_id for s in ordered[:size]}
    train = [s for s in samples if s.request_id not in held]
    return train, [s for s in ordered[:size]]
