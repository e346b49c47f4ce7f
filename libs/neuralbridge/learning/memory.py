"""The answer memory: a student distilled from API B's answers, and how it is judged.

A :class:`MemoryArtifact` holds teacher answers keyed by their normalized query
(and, in ``embedding`` mode, the query's vector). :class:`MemoryIndex` answers
a new query with its **nearest entry** when that entry is similar enough:

* ``lexical`` — token-set Jaccard ``|A & B| / |A | B|`` (intersection over union) over the queries'
  content tokens (:func:`content_tokens`: NFKC, case-folded, accents and
  punctuation stripped, English/Portuguese stopwords removed; when only
  stopwords remain they are kept). Deterministic and offline.
* ``embedding`` — cosine of the query vectors from the shared embedders; the
  artifact names the embedder (its ``cache_identity``) and is only usable by
  a process that embeds queries with the same one.

Ties go to the earlier entry. An answer **agrees** with the teacher when the
token F1 (SQuAD-style, over :func:`answer_tokens`, multiset overlap) between the
two is at least ``agreement_threshold``. :func:`evaluate` reports, on held-out
samples: ``coverage = answered / heldout``, ``agreement_rate = agreed /
answered`` and ``agreed_share = agreed / heldout``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec

from neuralbridge.core.schemas import Message
from neuralbridge.guardrails.stopwords import STOPWORDS

__all__ = [
    "MEMORY_PROVIDER",
    "Evaluation",
    "MemoryArtifact",
    "MemoryEntry",
    "MemoryHit",
    "MemoryIndex",
    "Similarity",
    "answer_tokens",
    "content_tokens",
    "cosine",
    "evaluate",
    "jaccard",
    "normalize_text",
    "token_f1",
]

Similarity = Literal["lexical", "embedding"]

#: The ``provider`` of answers the proxy gives from the memory (never teacher answers).
MEMORY_PROVIDER = "answer_memory"

_WORD = re.compile(r"\w+")


def normalize_text(text: str) -> str:
    """NFKC, case-folded, accents removed, words joined by single spaces."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(_WORD.findall(plain))


def answer_tokens(text: str) -> list[str]:
    """The words of ``text`` after :func:`normalize_text` (in order, repeats kept)."""
    return normalize_text(text).split()


def content_tokens(text: str) -> frozenset[str]:
    """The distinct non-stopword words of ``text`` (all words when only stopwords remain)."""
    words = set(answer_tokens(text))
    content = words - STOPWORDS
    return frozenset(content or words)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Intersection over union of two token sets (0.0 when both are empty)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def cosine(u: Sequence[float], v: Sequence[float]) -> float:
    """The cosine of two vectors (0.0 when either is zero or their sizes differ)."""
    if len(u) != len(v):
        return 0.0
    nu = math.sqrt(sum(x * x for x in u))
    nv = math.sqrt(sum(x * x for x in v))
    if nu == 0.0 or nv == 0.0:
        return 0.0
    return sum(x * y for x, y in zip(u, v, strict=True)) / (nu * nv)


def token_f1(prediction: str, reference: str) -> float:
    """Token F1 of two answers (1.0 when both are empty, 0.0 when one is)."""
    pred, ref = answer_tokens(prediction), answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


class MemoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One remembered teacher answer.

    Attributes:
        request_id: The query log it came from.
        query: The normalized query (:func:`normalize_text`, PII redacted).
        answer: The teacher's answer (PII redacted).
        sources: The passages the teacher was given, as logged (no text).
        confidence: The teacher answer's confidence.
        vector: The query's embedding (``embedding`` mode only).
    """

    request_id: str
    query: str
    answer: str
    sources: list[dict[str, str | int | float | None]] = []
    confidence: float
    vector: list[float] | None = None


class MemoryArtifact(Message, frozen=True, kw_only=True):
    """The object a ``distillation`` run publishes (object store ``answer_memory``).

    Attributes:
        run_id: The run that built and evaluated it.
        similarity: How queries are compared (module docstring).
        threshold: The least similarity of a hit.
        embedder: The embedder's ``cache_identity`` (``embedding`` mode only).
        entries: The remembered answers, in build order.
    """

    run_id: str
    similarity: Similarity
    threshold: Annotated[float, msgspec.Meta(ge=0, le=1)]
    embedder: str | None = None
    entries: list[MemoryEntry]


@dataclass(frozen=True, slots=True)
class MemoryHit:
    """The entry a query was answered from, and how similar the two queries were."""

    entry: MemoryEntry
    similarity: float


class MemoryIndex:
    """Nearest-entry lookup over one artifact (module docstring)."""

    def __init__(self, artifact: MemoryArtifact) -> None:
        self.artifact = artifact
        self._tokens = [content_tokens(e.query) for e in artifact.entries]

    def nearest(
        self, query: str, vector: Sequence[float] | None = None
    ) -> tuple[int, float] | None:
        """The index and similarity of the most similar entry (``None``: no entries).

        Raises:
            ValueError: an ``embedding`` artifact was asked without a query vector.
        """
        if not self.artifact.entries:
            return None
        if self.artifact.similarity == "embedding":
            if vector is None:
                raise ValueError("an embedding answer memory needs the query's vector")
            scores = [cosine(vector, e.vector or ()) for e in self.artifact.entries]
        else:
            tokens = content_tokens(query)
            scores = [jaccard(tokens, t) for t in self._tokens]
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        return best, scores[best]

    def lookup(self, query: str, vector: Sequence[float] | None = None) -> MemoryHit | None:
        """The nearest entry when its similarity reaches the threshold, else ``None``."""
        found = self.nearest(query, vector)
        if found is None or found[1] < self.artifact.threshold:
            return None
        return MemoryHit(entry=self.artifact.entries[found[0]], similarity=found[1])


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The student against the teacher on held-out samples (module docstring)."""

    heldout: int
    answered: int
    agreed: int

    @property
    def coverage(self) -> float:
        """Share of held-out queries the memory answered."""
        return self.answered / self.heldout if self.heldout else 0.0

    @property
    def agreement_rate(self) -> float:
        """Share of the answered ones that agreed with the teacher (0.0 when none)."""
        return self.agreed / self.answered if self.answered else 0.0

    @property
    def agreed_share(self) -> float:
        """Share of held-out queries answered in agreement."""
        return self.agreed / self.heldout if self.heldout else 0.0

    def as_dict(self) -> dict[str, float | int]:
        """The counts and rates, rounded, for results and tables."""
        return {
            "heldout": self.heldout, "answered": self.answered, "agreed": self.agreed,
            "coverage": round(self.coverage, 6),
            "agreement_rate": round(self.agreement_rate, 6),
            "agreed_share": round(self.agreed_share, 6),
        }  # fmt: skip


def evaluate(
    index: MemoryIndex,
    heldout: Sequence[MemoryEntry],
    *,
    agreement_threshold: float,
) -> Evaluation:
    """Ask the memory every held-out query; count hits and agreements with the teacher."""
    answered = agreed = 0
    for sample in heldout:
        hit = index.lookup(sample.query, sample.vector)
        if hit is None:
            continue
        answered += 1
        if token_f1(hit.entry.answer, sample.answer) >= agreement_threshold:
            agreed += 1
    return Evaluation(heldout=len(heldout), answered=answered, agreed=agreed)
