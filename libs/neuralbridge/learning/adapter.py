"""A query-side linear adapter over frozen embeddings, its training and its evaluation.

The documents stay where they are (their vectors in Qdrant are never touched);
only the query vector moves: ``q' = W q / ‖W q‖``. ``W`` (``d x d``) starts as
the identity, so an untrained adapter retrieves exactly what the base embedder
retrieves. Training minimises, over the (query, cited chunk) pairs of well-rated
answers, a softmax (InfoNCE) loss whose candidates are every chunk of the
training pool — the other queries' cited chunks (in-batch negatives) and the
chunks of poorly rated answers (hard negatives) — plus an L2 pull toward the
identity::

    s_ij = (W q_i) · c_j / τ
    L    = mean_i [ logsumexp_{j ∉ P(i) \\ {p_i}} s_ij - s_{i p_i} ] + λ ‖W - I‖²_F

``P(i)`` are all chunks cited for the same query, which are not negatives of
each other. Optimisation is Adam over shuffled mini-batches from a fixed seed,
so a run is deterministic. numpy only: a 384 x 384 adapter over a few thousand
pairs trains in seconds on one CPU core.

Metrics (:func:`evaluate`): ``recall@5`` (share of a query's relevant chunks in
its top 5, averaged over queries) and ``MRR@10`` (reciprocal rank of the first
relevant chunk within the top 10, 0 beyond), over a candidate corpus.

Artifacts are ``.npy`` bytes (:func:`encode_adapter`/:func:`decode_adapter`,
never pickled).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np
import numpy.typing as npt

__all__ = [
    "AdapterConfig",
    "AdapterTrainer",
    "Matrix",
    "PairSet",
    "RetrievalMetrics",
    "adapt_queries",
    "decode_adapter",
    "encode_adapter",
    "evaluate",
    "split_keys",
]

Matrix = npt.NDArray[np.float64]
Indices = npt.NDArray[np.int64]

_EPS = 1e-12


class AdapterConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Hyper-parameters of one training run.

    Attributes:
        epochs: Passes over the training pairs.
        learning_rate: Adam step size.
        temperature: Softmax temperature ``τ`` (cosine scores are in [-1, 1]).
        l2: Weight ``λ`` of ``‖W - I‖²`` (higher keeps the adapter near the identity).
        batch_size: Pairs per Adam step.
        seed: Seed of the shuffling (the only randomness).
    """

    epochs: int = 30
    learning_rate: float = 0.01
    temperature: float = 0.05
    l2: float = 0.001
    batch_size: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 1,
            "learning_rate": self.learning_rate > 0,
            "temperature": self.temperature > 0,
            "l2": self.l2 >= 0,
            "batch_size": self.batch_size >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid adapter config: {', '.join(bad)} out of range ({self})")


@dataclass(frozen=True, slots=True)
class PairSet:
    """Training data as arrays.

    Attributes:
        queries: ``n x d`` query embeddings, one row per training pair.
        chunks: ``m x d`` chunk embeddings: the candidate pool.
        positive: ``n`` indices into ``chunks``: the chunk cited for pair ``i``.
        group: ``n`` query-group ids: pairs of one group do not compete with
            each other's positives.
    """

    queries: Matrix
    chunks: Matrix
    positive: Indices
    group: Indices

    def __post_init__(self) -> None:
        n, d = self.queries.shape
        if self.chunks.ndim != 2 or self.chunks.shape[1] != d:
            raise ValueError(
                f"chunk vectors have shape {self.chunks.shape}, expected (m, {d}) "
                "like the query vectors"
            )
        if self.positive.shape != (n,) or self.group.shape != (n,):
            raise ValueError(f"positive and group must hold one entry per pair ({n})")
        if n and (self.positive.min() < 0 or self.positive.max() >= len(self.chunks)):
            raise ValueError("a positive index points outside the chunk pool")


@dataclass(frozen=True, slots=True)
class RetrievalMetrics:
    """Ranking quality over a set of queries."""

    recall_at_5: float
    mrr_at_10: float
    queries: int

    def as_dict(self) -> dict[str, float | int]:
        """The metrics as a JSON-ready dict (rounded to 4 decimals)."""
        return {
            "recall_at_5": round(self.recall_at_5, 4),
            "mrr_at_10": round(self.mrr_at_10, 4),
            "queries": self.queries,
        }


@dataclass(slots=True)
class AdapterTrainer:
    """Adam on ``W``, one epoch per :meth:`epoch` call (so a caller can report and stop).

    Args:
        data: The training pairs and their candidate pool.
        config: Hyper-parameters.
    """

    data: PairSet
    config: AdapterConfig
    weights: Matrix = field(init=False)
    losses: list[float] = field(init=False, default_factory=list)
    _m: Matrix = field(init=False)
    _v: Matrix = field(init=False)
    _step: int = field(init=False, default=0)
    _rng: np.random.Generator = field(init=False)
    _cited: dict[int, list[int]] = field(init=False)

    def __post_init__(self) -> None:
        if len(self.data.queries) == 0:
            raise ValueError("no training pairs: the adapter needs at least one")
        d = self.data.queries.shape[1]
        self.weights = np.eye(d)
        self._m, self._v = np.zeros((d, d)), np.zeros((d, d))
        self._rng = np.random.default_rng(self.config.seed)
        self._cited = {}
        for g, p in zip(self.data.group.tolist(), self.data.positive.tolist(), strict=True):
            self._cited.setdefault(g, []).append(p)

    def epoch(self) -> float:
        """One pass over the shuffled pairs; return the epoch's mean loss."""
        n = len(self.data.queries)
        order = self._rng.permutation(n)
        total = 0.0
        for start in range(0, n, self.config.batch_size):
            batch = order[start : start + self.config.batch_size]
            loss, grad = self._loss_and_grad(batch)
            self._adam(grad)
            total += loss * len(batch)
        mean = total / n
        self.losses.append(mean)
        return mean

    def _loss_and_grad(self, batch: Indices) -> tuple[float, Matrix]:
        c = self.config
        queries, chunks = self.data.queries[batch], self.data.chunks
        adapted = queries @ self.weights.T
        logits = adapted @ chunks.T / c.temperature
        logits[self._other_positives(batch)] = -np.inf
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        rows = np.arange(len(batch))
        positive = self.data.positive[batch]
        loss = float(-np.log(probs[rows, positive] + _EPS).mean())
        probs[rows, positive] -= 1.0
        # d logits / d adapted = (P - Y) C / τ ; d adapted_i / d W = outer(., q_i)
        grad_adapted = probs @ chunks / (c.temperature * len(batch))
        delta = self.weights - np.eye(len(self.weights))
        grad = grad_adapted.T @ queries + 2.0 * c.l2 * delta
        return loss + c.l2 * float((delta**2).sum()), grad

    def _other_positives(self, batch: Indices) -> npt.NDArray[np.bool_]:
        """``mask[r, j]``: chunk ``j`` is cited for row ``r``'s query but is not its positive."""
        mask = np.zeros((len(batch), len(self.data.chunks)), dtype=bool)
        for r, i in enumerate(batch.tolist()):
            mask[r, self._cited[int(self.data.group[i])]] = True
            mask[r, self.data.positive[i]] = False
        return mask

    def _adam(self, grad: Matrix, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self._step += 1
        self._m = beta1 * self._m + (1 - beta1) * grad
        self._v = beta2 * self._v + (1 - beta2) * grad**2
        m_hat = self._m / (1 - beta1**self._step)
        v_hat = self._v / (1 - beta2**self._step)
        self.weights -= self.config.learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)


def adapt_queries(weights: Matrix | None, queries: Matrix) -> Matrix:
    """``W q / ‖W q‖`` for each row (just normalised when ``weights`` is ``None``)."""
    adapted = queries if weights is None else queries @ weights.T
    norms = np.linalg.norm(adapted, axis=1, keepdims=True)
    return np.asarray(adapted / np.maximum(norms, _EPS), dtype=np.float64)


def evaluate(
    weights: Matrix | None,
    queries: Matrix,
    relevant: Sequence[frozenset[int]],
    corpus: Matrix,
) -> RetrievalMetrics:
    """recall@5 and MRR@10 of cosine search over ``corpus`` with the adapter applied.

    Args:
        weights: The adapter (``None``: the base embedding).
        queries: One row per evaluated query.
        relevant: For each query, the indices of its relevant rows of ``corpus``.
        corpus: The candidate chunk vectors.
    """
    if len(queries) != len(relevant):
        raise ValueError("one set of relevant chunks is needed per query")
    if len(queries) == 0:
        return RetrievalMetrics(recall_at_5=0.0, mrr_at_10=0.0, queries=0)
    docs = corpus / np.maximum(np.linalg.norm(corpus, axis=1, keepdims=True), _EPS)
    scores = adapt_queries(weights, queries) @ docs.T
    # A stable sort on -score: ties keep corpus order, so results are reproducible.
    ranking = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    recall, rr = 0.0, 0.0
    for row, wanted in zip(ranking, relevant, strict=True):
        hits = [int(j) in wanted for j in row]
        recall += sum(hits[:5]) / max(len(wanted), 1)
        first = next((rank for rank, hit in enumerate(hits, start=1) if hit), None)
        rr += 1.0 / first if first is not None else 0.0
    n = len(queries)
    return RetrievalMetrics(recall_at_5=recall / n, mrr_at_10=rr / n, queries=n)


def split_keys(
    keys: Sequence[str], holdout_fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """Split query keys into (train, held-out), deterministically for a seed.

    At least one key goes to each side when there are two or more.
    """
    if not 0 < holdout_fraction < 1:
        raise ValueError(f"holdout fraction must be in (0, 1), got {holdout_fraction}")
    ordered = sorted(set(keys))
    order = np.random.default_rng(seed).permutation(len(ordered))
    held = round(len(ordered) * holdout_fraction)
    if len(ordered) >= 2:
        held = min(max(held, 1), len(ordered) - 1)
    held_keys = {ordered[i] for i in order[:held]}
    return [k for k in ordered if k not in held_keys], [k for k in ordered if k in held_keys]


def encode_adapter(weights: Matrix) -> bytes:
    """The adapter as ``.npy`` bytes (float32)."""
    buffer = io.BytesIO()
    np.save(buffer, weights.astype(np.float32), allow_pickle=False)
    return buffer.getvalue()


def decode_adapter(data: bytes, dimensions: int | None = None) -> Matrix:
    """Read an adapter written by :func:`encode_adapter`.

    Raises:
        ValueError: the bytes are not a square matrix (of ``dimensions``, when given).
    """
    try:
        weights = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"not an adapter artifact: {exc}") from None
    if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
        raise ValueError(f"an adapter is a square matrix, got shape {weights.shape}")
    if dimensions is not None and weights.shape[0] != dimensions:
        raise ValueError(f"adapter is {weights.shape[0]}-dimensional, expected {dimensions}")
    return np.asarray(weights, dtype=np.float64)
